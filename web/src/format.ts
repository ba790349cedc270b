// Formatting helpers for durations and timestamps shown in the UI.

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** One decimal at most, without a trailing ".0": 1.25 → "1.3", 2 → "2". */
function oneDecimal(value: number): string {
  const rounded = Math.round(value * 10) / 10;
  return Number.isInteger(rounded) ? String(rounded) : rounded.toFixed(1);
}

/**
 * A duration in seconds for people: "850µs", "12.3ms", "1.2s", "2m 5s", "3h 4m", "2d 1h".
 * Invalid or negative input gives "—".
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds === 0) return '0s';
  if (seconds < 0.001) return `${Math.round(seconds * 1e6)}µs`;
  if (seconds < 1) {
    const millis = oneDecimal(seconds * 1000);
    return millis === '1000' ? '1s' : `${millis}ms`;
  }
  if (seconds < MINUTE) {
    const secs = oneDecimal(seconds);
    return secs === '60' ? '1m' : `${secs}s`;
  }
  const whole = Math.round(seconds);
  if (whole < HOUR) return joinUnits(Math.floor(whole / MINUTE), 'm', whole % MINUTE, 's');
  if (whole < DAY) return joinUnits(Math.floor(whole / HOUR), 'h', Math.floor((whole % HOUR) / MINUTE), 'm');
  return joinUnits(Math.floor(whole / DAY), 'd', Math.floor((whole % DAY) / HOUR), 'h');
}

function joinUnits(major: number, majorUnit: string, minor: number, minorUnit: string): string {
  return minor === 0 ? `${major}${majorUnit}` : `${major}${majorUnit} ${minor}${minorUnit}`;
}

type Parsed = Date | 'never' | 'invalid';

function parse(value: string | number | Date | null | undefined): Parsed {
  if (value === null || value === undefined) return 'never';
  let date: Date;
  if (value instanceof Date) {
    date = new Date(value.getTime());
  } else if (typeof value === 'number') {
    date = new Date(value * 1000);
  } else {
    const text = value.trim();
    if (text === '') return 'never';
    const buildDate = /^(\d{4})(\d{2})(\d{2})-(\d{2}):(\d{2}):(\d{2})$/.exec(text);
    if (/^\d+(\.\d+)?$/.test(text)) {
      date = new Date(Number(text) * 1000);
    } else if (buildDate) {
      const [year, month, day, hour, minute, second] = buildDate.slice(1).map(Number) as [
        number, number, number, number, number, number,
      ];
      date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
    } else {
      date = new Date(text);
    }
  }
  const millis = date.getTime();
  if (Number.isNaN(millis)) return 'invalid';
  // Go's zero time ("0001-01-01T00:00:00Z") and Unix 0 both mean "never happened".
  if (millis <= 0) return 'never';
  return date;
}

/**
 * Parses what the APIs put in time fields: RFC 3339 strings, Prometheus's build date
 * "20240102-15:04:05", Unix seconds (number or numeric string) or a Date.
 * Returns null for empty or unparseable input and for times at or before the Unix epoch
 * (Go's zero time "0001-01-01T00:00:00Z" means "never").
 */
export function parseTimestamp(value: string | number | Date | null | undefined): Date | null {
  const parsed = parse(value);
  return parsed instanceof Date ? parsed : null;
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

export interface TimestampOptions {
  /** Format in UTC (suffix " UTC") instead of the browser's time zone. */
  utc?: boolean;
}

/**
 * "2024-01-02 15:04:05" in local time, or "2024-01-02 15:04:05 UTC" with `utc`.
 * Unparseable input is returned as given; empty or zero time gives "never".
 */
export function formatTimestamp(
  value: string | number | Date | null | undefined,
  options: TimestampOptions = {},
): string {
  const date = parse(value);
  if (date === 'never') return 'never';
  if (date === 'invalid') return String(value);
  if (options.utc) {
    return (
      `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
      `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} UTC`
    );
  }
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** "3.2s ago", "5m ago", "just now", "in 2s" (clock skew) or "never". */
export function formatRelative(value: string | number | Date | null | undefined, now: Date = new Date()): string {
  const date = parseTimestamp(value);
  if (date === null) return 'never';
  const seconds = (now.getTime() - date.getTime()) / 1000;
  if (Math.abs(seconds) < 0.05) return 'just now';
  if (seconds < 0) return `in ${formatDuration(-seconds)}`;
  return `${formatDuration(seconds)} ago`;
}
