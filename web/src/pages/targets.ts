import { ApiError, errorMessage, getTargets, isAbortError, type ActiveTarget } from '../api';
import { badge, errorBox, h, infoBox, loading, pageHeader, replaceChildren, type BadgeKind } from '../dom';
import { formatDuration, formatRelative, formatTimestamp } from '../format';
import type { Page } from '../page';

export interface TargetPool {
  name: string;
  targets: ActiveTarget[];
  up: number;
}

/** Groups targets by scrape pool: pools sorted by name, targets by scrape URL. */
export function groupTargets(targets: readonly ActiveTarget[]): TargetPool[] {
  const pools = new Map<string, ActiveTarget[]>();
  for (const target of targets) {
    const name = target.scrapePool || '(no pool)';
    const pool = pools.get(name);
    if (pool === undefined) pools.set(name, [target]);
    else pool.push(target);
  }
  return [...pools.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, members]) => ({
      name,
      targets: [...members].sort((a, b) => a.scrapeUrl.localeCompare(b.scrapeUrl)),
      up: members.filter((target) => target.health === 'up').length,
    }));
}

export function healthKind(health: string): BadgeKind {
  if (health === 'up') return 'ok';
  if (health === 'down') return 'bad';
  return 'neutral';
}

function labelChips(labels: Record<string, string>): HTMLElement {
  const names = Object.keys(labels).sort();
  return h(
    'div',
    { class: 'labels' },
    names.map((name) => h('span', { class: 'label' }, `${name}="${labels[name]}"`)),
  );
}

function poolTable(pool: TargetPool, now: Date): HTMLElement {
  const header = h(
    'tr',
    null,
    ['Endpoint', 'State', 'Labels', 'Last scrape', 'Duration', 'Error'].map((title) => h('th', { scope: 'col' }, title)),
  );
  const rows = pool.targets.map((target) =>
    h(
      'tr',
      null,
      h('td', { class: 'mono' }, h('a', { href: target.scrapeUrl, target: '_blank', rel: 'noopener noreferrer' }, target.scrapeUrl)),
      h('td', null, badge(target.health.toUpperCase(), healthKind(target.health))),
      h('td', null, labelChips(target.labels)),
      h('td', { title: formatTimestamp(target.lastScrape) }, formatRelative(target.lastScrape, now)),
      h('td', null, formatDuration(target.lastScrapeDuration)),
      h('td', { class: 'target-error' }, target.lastError),
    ),
  );
  return h(
    'section',
    { class: 'card' },
    h('h2', null, pool.name, ' ', h('span', { class: 'count' }, `(${pool.up}/${pool.targets.length} up)`)),
    h('div', { class: 'table-scroll' }, h('table', { class: 'data' }, h('thead', null, header), h('tbody', null, rows))),
  );
}

export const targetsPage: Page = {
  title: 'Targets',
  render(root, context) {
    const body = h('div', null, loading());
    replaceChildren(root, pageHeader('Targets', 'Scrape targets and their health, grouped by scrape pool.'), body);

    getTargets({ signal: context.signal }).then(
      (data) => {
        const pools = groupTargets(data.activeTargets ?? []);
        if (pools.length === 0) {
          replaceChildren(body, infoBox('No active targets. Add scrape_configs to the configuration file.'));
          return;
        }
        const now = new Date();
        replaceChildren(body, pools.map((pool) => poolTable(pool, now)));
      },
      (error: unknown) => {
        if (isAbortError(error)) return;
        if (error instanceof ApiError && error.status === 404) {
          replaceChildren(body, infoBox('Scraping is not available in this build yet.'));
          return;
        }
        replaceChildren(body, errorBox('Could not load targets', errorMessage(error)));
      },
    );
  },
};
