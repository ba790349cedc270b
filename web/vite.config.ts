import { defineConfig } from 'vitest/config';

// The Sightline server the dev server forwards API calls to.
const serverUrl = process.env.SIGHTLINE_URL ?? 'http://127.0.0.1:9470';

// Paths answered by the Rust server; everything else is the single-page app.
const serverPaths = ['/api', '/-/', '/loki', '/metrics'];

export default defineConfig({
  base: '/',
  server: {
    host: '127.0.0.1',
    proxy: Object.fromEntries(
      serverPaths.map((path) => [path, { target: serverUrl, changeOrigin: true, ws: path === '/loki' }]),
    ),
  },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
