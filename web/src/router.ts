// A tiny History-API router: real <a href> links, intercepted on click, so that every
// client route also works as a deep link (the server answers index.html for them).

/** Paths owned by the Sightline server; a link to one of them is a normal page load. */
export const SERVER_PATH_PREFIXES = ['/api', '/-', '/loki', '/metrics', '/federate', '/ready', '/assets'];

export interface Route<Page> {
  /** Absolute path without a trailing slash, e.g. "/targets". */
  path: string;
  page: Page;
}

/** Where "/" goes. */
export const HOME_PATH = '/dashboards';

/**
 * Canonical form of a location pathname: leading slash, no trailing slash (except for "/"),
 * no repeated slashes.
 */
export function normalizePath(pathname: string): string {
  let path = pathname.replace(/\/{2,}/g, '/');
  if (!path.startsWith('/')) path = '/' + path;
  if (path.length > 1 && path.endsWith('/')) path = path.replace(/\/+$/, '');
  return path === '' ? '/' : path;
}

/** The route whose path equals the normalized pathname, or undefined (page not found). */
export function matchRoute<Page>(routes: readonly Route<Page>[], pathname: string): Route<Page> | undefined {
  const path = normalizePath(pathname);
  return routes.find((route) => route.path === path);
}

/** Whether the nav item linking to `href` is the active one for `pathname`. */
export function isActive(href: string, pathname: string): boolean {
  const target = normalizePath(href);
  const path = normalizePath(pathname) === '/' ? HOME_PATH : normalizePath(pathname);
  if (target === '/') return path === HOME_PATH;
  return path === target || path.startsWith(target + '/');
}

/** Whether a same-origin path is a page of this app rather than something the server answers. */
export function isClientPath(pathname: string): boolean {
  return !SERVER_PATH_PREFIXES.some((prefix) => pathname === prefix || pathname.startsWith(prefix + '/'));
}

/** The subset of a MouseEvent that decides whether a click is a plain left click. */
export interface ClickInfo {
  button: number;
  metaKey: boolean;
  ctrlKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
  defaultPrevented: boolean;
}

/** The subset of an anchor element that decides whether the router may handle it. */
export interface LinkInfo {
  href: string;
  target: string;
  hasDownload: boolean;
}

/**
 * The in-app URL (path + search + hash) a click on a link should navigate to, or null when
 * the browser must handle the click itself (modifier keys, new tab, other origin, server paths).
 */
export function interceptedUrl(click: ClickInfo, link: LinkInfo, currentOrigin: string): string | null {
  if (click.defaultPrevented || click.button !== 0) return null;
  if (click.metaKey || click.ctrlKey || click.shiftKey || click.altKey) return null;
  if (link.hasDownload) return null;
  if (link.target !== '' && link.target !== '_self') return null;
  let url: URL;
  try {
    url = new URL(link.href, currentOrigin);
  } catch {
    return null;
  }
  if (url.origin !== currentOrigin) return null;
  if (!isClientPath(url.pathname)) return null;
  return url.pathname + url.search + url.hash;
}

export interface RouterOptions<Page> {
  routes: readonly Route<Page>[];
  /** Called for every navigation with the matched route (undefined when none matched). */
  onNavigate: (route: Route<Page> | undefined, location: Location) => void;
}

/** Binds the pure functions above to window.history and document clicks. */
export class Router<Page> {
  private readonly routes: readonly Route<Page>[];
  private readonly onNavigate: RouterOptions<Page>['onNavigate'];

  constructor(options: RouterOptions<Page>) {
    this.routes = options.routes;
    this.onNavigate = options.onNavigate;
  }

  start(): void {
    window.addEventListener('popstate', () => this.render());
    document.addEventListener('click', (event) => this.handleClick(event));
    this.render();
  }

  /** Navigates to an in-app URL, adding a history entry unless `replace` is set. */
  navigate(url: string, replace = false): void {
    const current = location.pathname + location.search + location.hash;
    if (url === current && !replace) return;
    if (replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    this.render();
  }

  private handleClick(event: MouseEvent): void {
    const anchor = event.target instanceof Element ? event.target.closest('a') : null;
    if (anchor === null || !anchor.hasAttribute('href')) return;
    const url = interceptedUrl(
      event,
      { href: anchor.href, target: anchor.target, hasDownload: anchor.hasAttribute('download') },
      location.origin,
    );
    if (url === null) return;
    event.preventDefault();
    this.navigate(url);
  }

  private render(): void {
    if (normalizePath(location.pathname) === '/') {
      history.replaceState(null, '', HOME_PATH + location.search + location.hash);
    }
    this.onNavigate(matchRoute(this.routes, location.pathname), location);
  }
}
