import { errorMessage, getBuildInfo, getConfigYaml, getReadiness, isAbortError } from '../api';
import { badge, errorBox, h, keyValueTable, loading, pageHeader, replaceChildren } from '../dom';
import { formatTimestamp } from '../format';
import type { Page, PageContext } from '../page';

/** Runs `load` and puts its rendering (or an error box) into `slot`, unless the page was left. */
async function fill(slot: HTMLElement, what: string, load: () => Promise<Node>): Promise<void> {
  replaceChildren(slot, loading());
  try {
    replaceChildren(slot, await load());
  } catch (error) {
    if (isAbortError(error)) return;
    replaceChildren(slot, errorBox(`Could not load ${what}`, errorMessage(error)));
  }
}

/** Whether the readiness text only repeats the badge ("ready", "Ready.", "OK"). */
function isBadgeWord(message: string): boolean {
  return /^(ready|ok|starting)\.?$/i.test(message.trim());
}

function section(title: string, slot: HTMLElement): HTMLElement {
  return h('section', { class: 'card' }, h('h2', null, title), slot);
}

function renderSections(body: HTMLElement, context: PageContext): void {
  const options = { signal: context.signal };
  const buildSlot = h('div', { 'data-testid': 'buildinfo' });
  const readySlot = h('div', { 'data-testid': 'readiness' });
  const configSlot = h('div', { 'data-testid': 'config' });
  replaceChildren(
    body,
    h('div', { class: 'grid-2' }, section('Build information', buildSlot), section('Readiness', readySlot)),
    section('Configuration', configSlot),
  );

  void fill(buildSlot, 'build information', async () => {
    const info = await getBuildInfo(options);
    return keyValueTable([
      ['Version', h('span', { class: 'mono', 'data-testid': 'version' }, info.version)],
      ['Revision', h('span', { class: 'mono' }, info.revision || '—')],
      ['Branch', info.branch || '—'],
      ['Build date', formatTimestamp(info.buildDate, { utc: true })],
      ['Build user', info.buildUser || '—'],
      ['Runtime', info.goVersion || '—'],
    ]);
  });

  void fill(readySlot, 'readiness', async () => {
    const readiness = await getReadiness(options);
    return h(
      'div',
      { class: 'readiness' },
      readiness.ready ? badge('Ready', 'ok') : badge('Starting', 'warn'),
      isBadgeWord(readiness.message) ? null : h('span', { class: 'readiness-message' }, readiness.message),
    );
  });

  void fill(configSlot, 'configuration', async () => {
    const yaml = await getConfigYaml(options);
    return h('pre', { class: 'code' }, yaml.trim() === '' ? '# empty configuration' : yaml);
  });
}

export const statusPage: Page = {
  title: 'Status',
  render(root, context) {
    const body = h('div');
    const refresh = h('button', { type: 'button', class: 'button', onclick: () => renderSections(body, context) }, 'Refresh');
    replaceChildren(
      root,
      pageHeader('Status', 'Build information, readiness and the running configuration of this server.', refresh),
      body,
    );
    renderSections(body, context);
  },
};
