#!/usr/bin/env node
// A stand-in for the Sightline server, for checking the UI without the Rust build:
// serves web/dist like the real server does (hashed assets, index.html for every other
// non-API path) and answers the few API endpoints the UI calls today.
//
// Usage: node e2e/mock-server.mjs [port] [--targets=404|ok|empty] [--starting]
// Port 0 (the default) picks a free port; the chosen URL is printed on stdout.

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const port = Number(args.find((arg) => /^\d+$/.test(arg)) ?? 0);
const targetsMode = (args.find((arg) => arg.startsWith('--targets=')) ?? '--targets=ok').split('=')[1];
const starting = args.includes('--starting');
const distDir = resolve(fileURLToPath(new URL('../dist/', import.meta.url)));

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

const BUILD_INFO = {
  version: '0.1.0',
  revision: '4f1c2a9e0b7d',
  branch: 'main',
  buildUser: 'ci@sightline',
  buildDate: '2024-05-01T12:00:00Z',
  goVersion: 'rustc 1.89.0',
};

const CONFIG_YAML = `global:
  scrape_interval: 15s
  evaluation_interval: 15s
storage:
  path: data/
  retention: 15d
scrape_configs:
  - job_name: sightline
    static_configs:
      - targets: ['127.0.0.1:9470']
  - job_name: node
    static_configs:
      - targets: ['10.0.0.5:9100', '10.0.0.6:9100']
`;

function activeTargets() {
  const now = Date.now();
  const target = (pool, host, health, lastError, ageMs, duration) => ({
    discoveredLabels: { __address__: host, job: pool },
    labels: { instance: host, job: pool },
    scrapePool: pool,
    scrapeUrl: `http://${host}/metrics`,
    globalUrl: `http://${host}/metrics`,
    lastError,
    lastScrape: new Date(now - ageMs).toISOString(),
    lastScrapeDuration: duration,
    health,
    scrapeInterval: '15s',
    scrapeTimeout: '10s',
  });
  return [
    target('sightline', '127.0.0.1:9470', 'up', '', 3200, 0.0042),
    target('node', '10.0.0.6:9100', 'down', 'Get "http://10.0.0.6:9100/metrics": dial tcp 10.0.0.6:9100: connect: connection refused', 7100, 0.0011),
    target('node', '10.0.0.5:9100', 'up', '', 11800, 0.0387),
  ];
}

function sendJson(response, status, body) {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}

const success = (data) => ({ status: 'success', data });
const failure = (errorType, error) => ({ status: 'error', errorType, error });

function handleApi(url, response) {
  switch (url.pathname) {
    case '/api/v1/status/buildinfo':
      return sendJson(response, 200, success(BUILD_INFO));
    case '/api/v1/status/config':
      return sendJson(response, 200, success({ yaml: CONFIG_YAML }));
    case '/api/v1/targets':
      if (targetsMode === '404') return sendJson(response, 404, failure('not_found', 'unknown endpoint /api/v1/targets'));
      return sendJson(response, 200, success({ activeTargets: targetsMode === 'empty' ? [] : activeTargets(), droppedTargets: [] }));
    case '/api/v1/query':
      if (!url.searchParams.get('query')) return sendJson(response, 400, failure('bad_data', 'missing query parameter'));
      return sendJson(response, 404, failure('not_found', 'the query engine is not available in this build yet'));
    default:
      return sendJson(response, 404, failure('not_found', `unknown endpoint ${url.pathname}`));
  }
}

async function serveFile(path, response, cacheControl) {
  const body = await readFile(path);
  response.writeHead(200, { 'content-type': MIME[extname(path)] ?? 'application/octet-stream', 'cache-control': cacheControl });
  response.end(body);
}

const server = createServer(async (request, response) => {
  const url = new URL(request.url ?? '/', 'http://localhost');
  try {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return sendJson(response, 405, failure('bad_data', 'method not allowed'));
    }
    if (url.pathname === '/-/ready') {
      response.writeHead(starting ? 503 : 200, { 'content-type': 'text/plain; charset=utf-8' });
      return response.end(starting ? 'starting: replaying storage\n' : 'ready\n');
    }
    if (url.pathname === '/-/healthy') {
      response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      return response.end('healthy\n');
    }
    if (url.pathname === '/api' || url.pathname.startsWith('/api/')) return handleApi(url, response);
    if (url.pathname.startsWith('/assets/')) {
      const path = normalize(join(distDir, url.pathname));
      if (!path.startsWith(distDir + '/')) return sendJson(response, 404, failure('not_found', 'not found'));
      return await serveFile(path, response, 'public, max-age=31536000, immutable');
    }
    // Every other path is a page of the single-page app.
    return await serveFile(join(distDir, 'index.html'), response, 'no-cache');
  } catch (error) {
    if (error && error.code === 'ENOENT') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      return response.end(`not found: ${url.pathname}\n`);
    }
    response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    response.end(`internal error: ${error}\n`);
  }
});

server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  console.log(`mock server listening on http://127.0.0.1:${address.port}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
