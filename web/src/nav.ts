// The navigation of the app frame: one entry per top-level page.

export interface NavItem {
  href: string;
  label: string;
}

export const NAV_ITEMS: readonly NavItem[] = [
  { href: '/dashboards', label: 'Dashboards' },
  { href: '/explore', label: 'Explore' },
  { href: '/alerting', label: 'Alerting' },
  { href: '/targets', label: 'Targets' },
  { href: '/uptime', label: 'Uptime' },
  { href: '/status', label: 'Status' },
];
