// Every HTTP call of the UI goes through this module. The server speaks the Prometheus
// envelope: {"status":"success","data":...} or {"status":"error","errorType":"...","error":"..."}.

/** A failed API call: HTTP status (0 for a network failure), error type and message. */
export class ApiError extends Error {
  readonly status: number;
  readonly errorType: string;

  constructor(status: number, errorType: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.errorType = errorType;
  }

  /** One line for people: "HTTP 404 not_found: unknown path". */
  describe(): string {
    const where = this.status === 0 ? 'network error' : `HTTP ${this.status}`;
    const type = this.errorType === '' || this.errorType === 'network' ? '' : ` ${this.errorType}`;
    return `${where}${type}: ${this.message}`;
  }
}

export interface Envelope<T> {
  data: T;
  warnings: string[];
  infos: string[];
}

export interface RequestOptions {
  signal?: AbortSignal;
}

interface RawEnvelope {
  status?: unknown;
  data?: unknown;
  errorType?: unknown;
  error?: unknown;
  warnings?: unknown;
  infos?: unknown;
}

/** Whether an error comes from an aborted request (a navigation away), which is not shown. */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** A human-readable message for any error thrown by this module (or anything else). */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.describe();
  if (error instanceof Error) return error.message;
  return String(error);
}

async function send(path: string, options: RequestOptions): Promise<Response> {
  try {
    const init: RequestInit = { headers: { Accept: 'application/json' } };
    if (options.signal !== undefined) init.signal = options.signal;
    return await fetch(path, init);
  } catch (error) {
    if (isAbortError(error)) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new ApiError(0, 'network', `${path}: ${detail}`);
  }
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function shortText(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 200 ? oneLine.slice(0, 200) + '…' : oneLine;
}

/** GETs a Prometheus-envelope endpoint and returns data with warnings and infos. */
export async function getEnvelope<T>(path: string, options: RequestOptions = {}): Promise<Envelope<T>> {
  const response = await send(path, options);
  const text = await response.text();

  let body: RawEnvelope | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as RawEnvelope;
  } catch {
    body = undefined;
  }

  if (body !== undefined && body.status === 'error') {
    const errorType = typeof body.errorType === 'string' ? body.errorType : '';
    const message = typeof body.error === 'string' && body.error !== '' ? body.error : response.statusText;
    throw new ApiError(response.status, errorType, message || 'request failed');
  }
  if (!response.ok) {
    const message = shortText(text) || response.statusText || 'request failed';
    throw new ApiError(response.status, '', message);
  }
  if (body === undefined || body.status !== 'success' || !('data' in body)) {
    const contentType = response.headers.get('content-type') ?? 'unknown content type';
    throw new ApiError(response.status, 'bad_response', `${path}: expected a JSON envelope, got ${contentType}`);
  }
  return { data: body.data as T, warnings: stringList(body.warnings), infos: stringList(body.infos) };
}

/** GETs a Prometheus-envelope endpoint and returns its unwrapped `data`. */
export async function getJSON<T>(path: string, options: RequestOptions = {}): Promise<T> {
  return (await getEnvelope<T>(path, options)).data;
}

// ---- Typed endpoints ------------------------------------------------------------------

export interface BuildInfo {
  version: string;
  revision: string;
  branch: string;
  buildUser: string;
  buildDate: string;
  /** Named after Prometheus's field; Sightline reports its Rust toolchain here. */
  goVersion: string;
}

export interface Readiness {
  ready: boolean;
  /** The server's own words, e.g. "starting: replaying storage". */
  message: string;
}

export interface ActiveTarget {
  discoveredLabels?: Record<string, string>;
  labels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  globalUrl?: string;
  lastError: string;
  lastScrape: string;
  lastScrapeDuration: number;
  health: 'up' | 'down' | 'unknown' | string;
  scrapeInterval?: string;
  scrapeTimeout?: string;
}

export interface TargetsData {
  activeTargets: ActiveTarget[];
  droppedTargets?: unknown[];
}

export interface QueryData {
  resultType: 'matrix' | 'vector' | 'scalar' | 'string' | string;
  result: unknown;
}

export function getBuildInfo(options: RequestOptions = {}): Promise<BuildInfo> {
  return getJSON<BuildInfo>('/api/v1/status/buildinfo', options);
}

export async function getConfigYaml(options: RequestOptions = {}): Promise<string> {
  return (await getJSON<{ yaml: string }>('/api/v1/status/config', options)).yaml;
}

/** GET /-/ready: 200 means ready, 503 means still starting; anything else is an error. */
export async function getReadiness(options: RequestOptions = {}): Promise<Readiness> {
  const response = await send('/-/ready', options);
  const text = shortText(await response.text());
  if (response.status === 200) return { ready: true, message: text || 'ready' };
  if (response.status === 503) return { ready: false, message: text || 'starting' };
  throw new ApiError(response.status, '', text || response.statusText || 'unexpected readiness answer');
}

export function getTargets(options: RequestOptions = {}): Promise<TargetsData> {
  return getJSON<TargetsData>('/api/v1/targets', options);
}

export function runInstantQuery(query: string, options: RequestOptions = {}): Promise<Envelope<QueryData>> {
  return getEnvelope<QueryData>(`/api/v1/query?query=${encodeURIComponent(query)}`, options);
}
