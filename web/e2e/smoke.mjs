#!/usr/bin/env node
// End-to-end smoke test of the web UI in a real (system) Chromium.
//
// Usage: node web/e2e/smoke.mjs http://127.0.0.1:PORT [screenshot.png]
// CHROMIUM_PATH overrides the browser binary (default /usr/bin/chromium); no browser is
// ever downloaded. Exits 1 with a message on the first failed check.

import { chromium } from 'playwright-core';

const NAV_LABELS = ['Dashboards', 'Explore', 'Alerting', 'Targets', 'Uptime', 'Status'];
const STEP_TIMEOUT_MS = 10_000;

const [baseArg, screenshotPath] = process.argv.slice(2);
if (!baseArg || !/^https?:\/\//.test(baseArg)) {
  console.error('usage: node web/e2e/smoke.mjs http://127.0.0.1:PORT [screenshot.png]');
  process.exit(2);
}
const base = baseArg.replace(/\/+$/, '');

let passed = 0;
let failed = 0;

class CheckError extends Error {}

function assert(condition, message) {
  if (!condition) throw new CheckError(message);
}

async function check(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (error) {
    failed += 1;
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    console.error(`FAIL ${name}: ${message}`);
    throw error;
  }
}

async function headingText(page) {
  const heading = page.locator('main h1');
  await heading.waitFor({ state: 'visible' });
  return (await heading.textContent())?.trim();
}

async function activeNavLabels(page) {
  return page.locator('nav a[aria-current="page"]').allTextContents();
}

async function expectedVersion() {
  const response = await fetch(`${base}/api/v1/status/buildinfo`);
  assert(response.ok, `GET /api/v1/status/buildinfo answered HTTP ${response.status}`);
  const body = await response.json();
  assert(body.status === 'success' && typeof body.data?.version === 'string', 'buildinfo is not a success envelope with data.version');
  return body.data.version;
}

async function run(browser) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));

  await check('/ renders the Dashboards page', async () => {
    const response = await page.goto(`${base}/`);
    assert(response?.ok(), `GET / answered HTTP ${response?.status()}`);
    const heading = await headingText(page);
    assert(heading === 'Dashboards', `heading is "${heading}", expected "Dashboards"`);
    assert(new URL(page.url()).pathname === '/dashboards', `URL is ${page.url()}, expected /dashboards`);
  });

  await check('nav has the six items', async () => {
    const labels = (await page.locator('nav a').allTextContents()).map((label) => label.trim());
    assert(JSON.stringify(labels) === JSON.stringify(NAV_LABELS), `nav items are ${JSON.stringify(labels)}`);
    const hrefs = await page.locator('nav a').evaluateAll((links) => links.map((link) => link.getAttribute('href')));
    assert(hrefs.every((href) => href?.startsWith('/')), `nav links are not real hrefs: ${JSON.stringify(hrefs)}`);
    const active = await activeNavLabels(page);
    assert(JSON.stringify(active) === '["Dashboards"]', `active nav items are ${JSON.stringify(active)}`);
  });

  await check('clicking Status navigates in-app and shows the buildinfo version', async () => {
    const version = await expectedVersion();
    await page.evaluate(() => {
      window.__smokeNoReload = true;
    });
    await page.locator('nav a', { hasText: 'Status' }).click();
    await page.waitForURL((url) => url.pathname === '/status');
    assert((await headingText(page)) === 'Status', 'Status heading did not render');
    const versionCell = page.locator('[data-testid="version"]');
    await versionCell.waitFor({ state: 'visible' }).catch(async () => {
      const box = await page.locator('[data-testid="buildinfo"]').textContent();
      throw new CheckError(`build information did not render: ${box?.trim()}`);
    });
    const shown = (await versionCell.textContent())?.trim();
    assert(shown === version, `version shown is "${shown}", expected "${version}"`);
    assert(await page.evaluate(() => window.__smokeNoReload === true), 'the click reloaded the page instead of routing');
    const active = await activeNavLabels(page);
    assert(JSON.stringify(active) === '["Status"]', `active nav items are ${JSON.stringify(active)}`);
  });

  await check('Status shows readiness and the configuration', async () => {
    await page.locator('[data-testid="readiness"] .badge').waitFor({ state: 'visible' });
    await page.locator('[data-testid="config"] pre').waitFor({ state: 'visible' });
    if (screenshotPath) await page.screenshot({ path: screenshotPath, fullPage: true });
  });

  await check('deep link /targets renders the Targets page', async () => {
    const response = await page.goto(`${base}/targets`);
    assert(response?.ok(), `GET /targets answered HTTP ${response?.status()} (the server must fall back to index.html)`);
    const heading = await headingText(page);
    assert(heading === 'Targets', `heading is "${heading}", expected "Targets"`);
    const active = await activeNavLabels(page);
    assert(JSON.stringify(active) === '["Targets"]', `active nav items are ${JSON.stringify(active)}`);
    await page.locator('main .loading').waitFor({ state: 'detached' });
  });

  await check('no uncaught errors in the page', async () => {
    assert(pageErrors.length === 0, `uncaught errors: ${pageErrors.join(' | ')}`);
  });
}

const browser = await chromium
  .launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  .catch((error) => {
    console.error(`e2e: could not start Chromium: ${error.message.split('\n')[0]}`);
    console.error('e2e: install it (apt-get install chromium) or set CHROMIUM_PATH');
    console.log('e2e: 0 passed, 1 failed');
    process.exit(1);
  });

let exitCode = 0;
try {
  await run(browser);
} catch {
  // The failed check has already printed its message.
  exitCode = 1;
} finally {
  await browser.close();
}
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(exitCode);
