import { describe, expect, it } from 'vitest';
import { NAV_ITEMS } from './nav';
import { HOME_PATH, interceptedUrl, isActive, isClientPath, matchRoute, normalizePath, type ClickInfo } from './router';

const routes = NAV_ITEMS.map((item) => ({ path: item.href, page: item.label }));

const plainClick: ClickInfo = {
  button: 0,
  metaKey: false,
  ctrlKey: false,
  shiftKey: false,
  altKey: false,
  defaultPrevented: false,
};
const origin = 'http://127.0.0.1:9470';
const link = (href: string, target = '') => ({ href, target, hasDownload: false });

describe('normalizePath', () => {
  it('keeps canonical paths', () => {
    expect(normalizePath('/')).toBe('/');
    expect(normalizePath('/targets')).toBe('/targets');
  });
  it('drops trailing and repeated slashes', () => {
    expect(normalizePath('/targets/')).toBe('/targets');
    expect(normalizePath('//status//')).toBe('/status');
    expect(normalizePath('')).toBe('/');
    expect(normalizePath('explore')).toBe('/explore');
  });
});

describe('matchRoute', () => {
  it('matches each nav route exactly', () => {
    for (const item of NAV_ITEMS) expect(matchRoute(routes, item.href)?.page).toBe(item.label);
  });
  it('matches with a trailing slash', () => {
    expect(matchRoute(routes, '/status/')?.page).toBe('Status');
  });
  it('does not match unknown paths or prefixes', () => {
    expect(matchRoute(routes, '/nope')).toBeUndefined();
    expect(matchRoute(routes, '/statusx')).toBeUndefined();
    expect(matchRoute(routes, '/')).toBeUndefined();
  });
});

describe('isActive', () => {
  it('highlights the exact page and its sub-pages', () => {
    expect(isActive('/targets', '/targets')).toBe(true);
    expect(isActive('/targets', '/targets/')).toBe(true);
    expect(isActive('/dashboards', '/dashboards/abc-uid')).toBe(true);
  });
  it('does not highlight other pages or mere string prefixes', () => {
    expect(isActive('/targets', '/status')).toBe(false);
    expect(isActive('/status', '/statusboard')).toBe(false);
  });
  it('treats "/" as the home page', () => {
    expect(HOME_PATH).toBe('/dashboards');
    expect(isActive('/dashboards', '/')).toBe(true);
    expect(isActive('/explore', '/')).toBe(false);
    expect(isActive('/', '/dashboards')).toBe(true);
  });
  it('marks exactly one nav item active on each route', () => {
    for (const item of NAV_ITEMS) {
      const active = NAV_ITEMS.filter((other) => isActive(other.href, item.href));
      expect(active).toEqual([item]);
    }
  });
});

describe('isClientPath', () => {
  it('leaves server paths to the browser', () => {
    for (const path of ['/api/v1/query', '/-/ready', '/ready', '/loki/api/v1/push', '/metrics', '/api', '/assets/index-x.js']) {
      expect(isClientPath(path), path).toBe(false);
    }
  });
  it('claims app paths', () => {
    for (const path of ['/', '/status', '/targets', '/metrics-explorer', '/apis']) {
      expect(isClientPath(path), path).toBe(true);
    }
  });
});

describe('interceptedUrl', () => {
  it('intercepts plain clicks on same-origin app links', () => {
    expect(interceptedUrl(plainClick, link(`${origin}/status`), origin)).toBe('/status');
    expect(interceptedUrl(plainClick, link(`${origin}/explore?query=up#x`), origin)).toBe('/explore?query=up#x');
    expect(interceptedUrl(plainClick, link('/targets', '_self'), origin)).toBe('/targets');
  });
  it('lets the browser handle modified clicks and other buttons', () => {
    for (const modifier of ['metaKey', 'ctrlKey', 'shiftKey', 'altKey'] as const) {
      expect(interceptedUrl({ ...plainClick, [modifier]: true }, link('/status'), origin)).toBeNull();
    }
    expect(interceptedUrl({ ...plainClick, button: 1 }, link('/status'), origin)).toBeNull();
    expect(interceptedUrl({ ...plainClick, defaultPrevented: true }, link('/status'), origin)).toBeNull();
  });
  it('lets the browser handle new-tab, download, cross-origin and server links', () => {
    expect(interceptedUrl(plainClick, link('/status', '_blank'), origin)).toBeNull();
    expect(interceptedUrl(plainClick, { href: '/status', target: '', hasDownload: true }, origin)).toBeNull();
    expect(interceptedUrl(plainClick, link('http://example.test/status'), origin)).toBeNull();
    expect(interceptedUrl(plainClick, link('/metrics'), origin)).toBeNull();
    expect(interceptedUrl(plainClick, link('/api/v1/targets'), origin)).toBeNull();
  });
});
