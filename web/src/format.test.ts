import { describe, expect, it } from 'vitest';
import { formatDuration, formatRelative, formatTimestamp, parseTimestamp } from './format';

describe('formatDuration', () => {
  it('formats sub-second durations', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(0.00085)).toBe('850µs');
    expect(formatDuration(0.0123)).toBe('12.3ms');
    expect(formatDuration(0.35)).toBe('350ms');
    expect(formatDuration(0.99996)).toBe('1s');
  });
  it('formats seconds with one decimal', () => {
    expect(formatDuration(1.2)).toBe('1.2s');
    expect(formatDuration(1.25)).toBe('1.3s');
    expect(formatDuration(2)).toBe('2s');
    expect(formatDuration(59.94)).toBe('59.9s');
    expect(formatDuration(59.97)).toBe('1m');
  });
  it('formats minutes, hours and days with two units', () => {
    expect(formatDuration(125)).toBe('2m 5s');
    expect(formatDuration(120)).toBe('2m');
    expect(formatDuration(3 * 3600 + 4 * 60 + 9)).toBe('3h 4m');
    expect(formatDuration(2 * 86400 + 3600)).toBe('2d 1h');
    expect(formatDuration(86400)).toBe('1d');
  });
  it('rejects invalid input', () => {
    expect(formatDuration(-1)).toBe('—');
    expect(formatDuration(Number.NaN)).toBe('—');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('—');
  });
});

describe('parseTimestamp', () => {
  it('parses RFC 3339 with offsets and fractions', () => {
    expect(parseTimestamp('2017-01-17T15:07:44.723715405+01:00')?.toISOString()).toBe('2017-01-17T14:07:44.723Z');
    expect(parseTimestamp('2024-03-01T00:00:00Z')?.getTime()).toBe(Date.UTC(2024, 2, 1));
  });
  it('parses the Prometheus build date format as UTC', () => {
    expect(parseTimestamp('20240102-15:04:05')?.toISOString()).toBe('2024-01-02T15:04:05.000Z');
  });
  it('parses Unix seconds as numbers and strings', () => {
    expect(parseTimestamp(1700000000)?.toISOString()).toBe('2023-11-14T22:13:20.000Z');
    expect(parseTimestamp('1700000000.5')?.toISOString()).toBe('2023-11-14T22:13:20.500Z');
  });
  it('returns null for never and garbage', () => {
    expect(parseTimestamp('0001-01-01T00:00:00Z')).toBeNull();
    expect(parseTimestamp('')).toBeNull();
    expect(parseTimestamp(undefined)).toBeNull();
    expect(parseTimestamp('yesterday-ish')).toBeNull();
  });
});

describe('formatTimestamp', () => {
  it('formats in UTC', () => {
    expect(formatTimestamp('2024-01-02T03:04:05.678Z', { utc: true })).toBe('2024-01-02 03:04:05 UTC');
    expect(formatTimestamp('20231231-23:59:59', { utc: true })).toBe('2023-12-31 23:59:59 UTC');
  });
  it('formats in local time without a zone suffix', () => {
    const local = new Date(2024, 5, 7, 8, 9, 10);
    expect(formatTimestamp(local)).toBe('2024-06-07 08:09:10');
  });
  it('says never for zero times and keeps unparseable text', () => {
    expect(formatTimestamp('0001-01-01T00:00:00Z')).toBe('never');
    expect(formatTimestamp('')).toBe('never');
    expect(formatTimestamp('built on a Tuesday')).toBe('built on a Tuesday');
  });
});

describe('formatRelative', () => {
  const now = new Date('2024-01-01T00:10:00Z');
  it('formats past times', () => {
    expect(formatRelative('2024-01-01T00:09:56.800Z', now)).toBe('3.2s ago');
    expect(formatRelative('2024-01-01T00:05:00Z', now)).toBe('5m ago');
    expect(formatRelative(now, now)).toBe('just now');
  });
  it('formats future times and never', () => {
    expect(formatRelative('2024-01-01T00:10:02Z', now)).toBe('in 2s');
    expect(formatRelative('0001-01-01T00:00:00Z', now)).toBe('never');
  });
});
