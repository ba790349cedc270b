import { h } from './dom';
import { NAV_ITEMS } from './nav';
import type { Page } from './page';
import { explorePage } from './pages/explore';
import { alertingPage, dashboardsPage, notFoundPage, uptimePage } from './pages/placeholders';
import { statusPage } from './pages/status';
import { targetsPage } from './pages/targets';
import { isActive, Router, type Route } from './router';

const PRODUCT = 'Sightline';

const routes: Route<Page>[] = [
  { path: '/dashboards', page: dashboardsPage },
  { path: '/explore', page: explorePage },
  { path: '/alerting', page: alertingPage },
  { path: '/targets', page: targetsPage },
  { path: '/uptime', page: uptimePage },
  { path: '/status', page: statusPage },
];

function buildFrame(app: HTMLElement): { links: HTMLAnchorElement[]; main: HTMLElement } {
  const links = NAV_ITEMS.map((item) => h('a', { href: item.href, class: 'nav-link' }, item.label));
  const header = h(
    'header',
    { class: 'app-header' },
    h(
      'a',
      { href: '/', class: 'brand', 'aria-label': `${PRODUCT} home` },
      h('span', { class: 'brand-mark', 'aria-hidden': 'true' }),
      PRODUCT,
    ),
    h('nav', { class: 'app-nav', 'aria-label': 'Main' }, links),
  );
  const main = h('main', { class: 'app-main', id: 'content', tabindex: '-1' });
  app.replaceChildren(header, main);
  return { links, main };
}

function highlight(links: HTMLAnchorElement[], pathname: string): void {
  for (const link of links) {
    const active = isActive(link.getAttribute('href') ?? '', pathname);
    link.classList.toggle('active', active);
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function start(): void {
  const app = document.getElementById('app');
  if (app === null) throw new Error('#app element missing from index.html');
  const { links, main } = buildFrame(app);
  let current: AbortController | undefined;

  const router = new Router<Page>({
    routes,
    onNavigate(route, location) {
      current?.abort();
      current = new AbortController();
      const page = route?.page ?? notFoundPage;
      document.title = `${page.title} · ${PRODUCT}`;
      highlight(links, location.pathname);
      main.replaceChildren();
      window.scrollTo(0, 0);
      page.render(main, { signal: current.signal, url: new URL(location.href) });
    },
  });
  router.start();
}

start();
