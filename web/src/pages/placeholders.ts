import { h, infoBox, pageHeader, replaceChildren } from '../dom';
import type { Page } from '../page';

function placeholder(title: string, description: string): Page {
  return {
    title,
    render(root) {
      replaceChildren(root, pageHeader(title, description), infoBox('This page is not built yet.'));
    },
  };
}

export const dashboardsPage = placeholder(
  'Dashboards',
  'Dashboards of metric and log panels; Grafana dashboard JSON can be imported and provisioned from files.',
);

export const alertingPage = placeholder(
  'Alerting',
  'Alert and recording rules with their state (pending, firing), silences and notification routing.',
);

export const uptimePage = placeholder(
  'Uptime',
  'HTTP and TCP probes of your endpoints, with availability, latency and certificate expiry.',
);

export const notFoundPage: Page = {
  title: 'Not found',
  render(root, context) {
    replaceChildren(
      root,
      pageHeader('Page not found', `There is no page at ${context.url.pathname}.`),
      h('p', null, h('a', { href: '/dashboards' }, 'Go to Dashboards')),
    );
  },
};
