// A few DOM helpers. Text always goes through textContent / text nodes, never innerHTML.

export type Child = Node | string | number | null | undefined | false;
export type AttrValue = string | number | boolean | null | undefined;
export type Attrs = Record<string, AttrValue | ((event: Event) => void)>;

/** Creates an element: h('a', { href: '/x', class: 'link' }, 'text', otherNode). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (typeof value === 'function') {
      element.addEventListener(name.replace(/^on/, '').toLowerCase(), value);
    } else if (value === true) {
      element.setAttribute(name, '');
    } else if (value !== false && value !== null && value !== undefined) {
      element.setAttribute(name, String(value));
    }
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces all children of `parent`. */
export function replaceChildren(parent: Element, ...children: (Child | Child[])[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** A red box with a title and the error message. */
export function errorBox(title: string, message: string): HTMLElement {
  return h('div', { class: 'notice notice-error', role: 'alert' }, h('strong', null, title), h('p', null, message));
}

/** A neutral box for expected situations (feature not available, nothing to show). */
export function infoBox(message: string): HTMLElement {
  return h('div', { class: 'notice notice-info', role: 'status' }, h('p', null, message));
}

export function loading(what = 'Loading…'): HTMLElement {
  return h('p', { class: 'loading', 'aria-busy': 'true' }, what);
}

export type BadgeKind = 'ok' | 'warn' | 'bad' | 'neutral';

export function badge(text: string, kind: BadgeKind): HTMLElement {
  return h('span', { class: `badge badge-${kind}` }, text);
}

/** A two-column table of name/value rows. */
export function keyValueTable(rows: [string, Child][], className = 'kv'): HTMLTableElement {
  return h(
    'table',
    { class: className },
    h('tbody', null, rows.map(([name, value]) => h('tr', null, h('th', { scope: 'row' }, name), h('td', null, value)))),
  );
}

/** The heading and one-line description every page starts with. */
export function pageHeader(title: string, description: string, ...actions: Child[]): HTMLElement {
  return h(
    'header',
    { class: 'page-header' },
    h('div', null, h('h1', null, title), h('p', { class: 'page-description' }, description)),
    actions.length > 0 ? h('div', { class: 'page-actions' }, actions) : null,
  );
}
