import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, errorMessage, getEnvelope, getJSON, getReadiness, getTargets, runInstantQuery } from './api';

type FetchMock = ReturnType<typeof vi.fn>;

function mockFetch(status: number, body: string, contentType = 'application/json'): FetchMock {
  const fetchMock = vi.fn(async () => new Response(body, { status, headers: { 'content-type': contentType } }));
  vi.stubGlobal('fetch', fetchMock);
  return fetchMock;
}

async function caught(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('expected the promise to reject');
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('getJSON', () => {
  it('unwraps the data of a success envelope', async () => {
    const fetchMock = mockFetch(200, JSON.stringify({ status: 'success', data: { version: '0.1.0' } }));
    await expect(getJSON<{ version: string }>('/api/v1/status/buildinfo')).resolves.toEqual({ version: '0.1.0' });
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(fetchMock.mock.calls[0]?.[0]).toBe('/api/v1/status/buildinfo');
  });

  it('maps an error envelope to ApiError with status, type and message', async () => {
    mockFetch(400, JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error at char 3' }));
    const error = await caught(getJSON('/api/v1/query?query=up%7B'));
    expect(error.status).toBe(400);
    expect(error.errorType).toBe('bad_data');
    expect(error.message).toBe('parse error at char 3');
    expect(error.describe()).toBe('HTTP 400 bad_data: parse error at char 3');
    expect(errorMessage(error)).toBe('HTTP 400 bad_data: parse error at char 3');
  });

  it('maps a non-2xx without an envelope to ApiError carrying the body text', async () => {
    mockFetch(404, '404 page not found\n', 'text/plain');
    const error = await caught(getJSON('/api/v1/targets'));
    expect(error.status).toBe(404);
    expect(error.errorType).toBe('');
    expect(error.describe()).toBe('HTTP 404: 404 page not found');
  });

  it('uses the status text when a non-2xx has an empty body', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('', { status: 502, statusText: 'Bad Gateway' })));
    const error = await caught(getJSON('/api/v1/targets'));
    expect(error.describe()).toBe('HTTP 502: Bad Gateway');
  });

  it('rejects a 200 that is not an envelope (e.g. the index.html fallback)', async () => {
    mockFetch(200, '<!doctype html><html></html>', 'text/html');
    const error = await caught(getJSON('/api/v1/nothing'));
    expect(error.status).toBe(200);
    expect(error.errorType).toBe('bad_response');
    expect(error.message).toContain('text/html');
  });

  it('treats an error envelope on a 2xx as an error', async () => {
    mockFetch(200, JSON.stringify({ status: 'error', errorType: 'internal', error: 'boom' }));
    const error = await caught(getJSON('/x'));
    expect(error.errorType).toBe('internal');
    expect(error.message).toBe('boom');
  });

  it('maps network failures to status 0', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    const error = await caught(getJSON('/api/v1/status/config'));
    expect(error.status).toBe(0);
    expect(error.errorType).toBe('network');
    expect(error.describe()).toBe('network error: /api/v1/status/config: Failed to fetch');
  });

  it('rethrows aborts unchanged', async () => {
    const abort = new DOMException('The operation was aborted.', 'AbortError');
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(abort)));
    await expect(getJSON('/api/v1/targets')).rejects.toBe(abort);
  });
});

describe('getEnvelope', () => {
  it('returns warnings and infos alongside data', async () => {
    mockFetch(
      200,
      JSON.stringify({ status: 'success', data: [], warnings: ['too many series', 3], infos: ['partial'] }),
    );
    await expect(getEnvelope('/x')).resolves.toEqual({ data: [], warnings: ['too many series'], infos: ['partial'] });
  });
});

describe('typed endpoints', () => {
  it('reports readiness for 200 and 503 and fails on other statuses', async () => {
    mockFetch(200, 'ready\n', 'text/plain');
    await expect(getReadiness()).resolves.toEqual({ ready: true, message: 'ready' });
    mockFetch(503, 'starting: replaying storage', 'text/plain');
    await expect(getReadiness()).resolves.toEqual({ ready: false, message: 'starting: replaying storage' });
    mockFetch(500, 'internal', 'text/plain');
    expect((await caught(getReadiness())).status).toBe(500);
  });

  it('calls the Prometheus paths', async () => {
    const fetchMock = mockFetch(200, JSON.stringify({ status: 'success', data: { activeTargets: [] } }));
    await getTargets();
    await runInstantQuery('sum by (job) (up{job="a b"})');
    expect(fetchMock.mock.calls.map((call) => call[0])).toEqual([
      '/api/v1/targets',
      '/api/v1/query?query=sum%20by%20(job)%20(up%7Bjob%3D%22a%20b%22%7D)',
    ]);
  });
});
