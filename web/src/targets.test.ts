import { describe, expect, it } from 'vitest';
import type { ActiveTarget } from './api';
import { describeResult } from './pages/explore';
import { groupTargets, healthKind } from './pages/targets';

function target(scrapePool: string, scrapeUrl: string, health: string): ActiveTarget {
  return {
    labels: { job: scrapePool, instance: new URL(scrapeUrl).host },
    scrapePool,
    scrapeUrl,
    health,
    lastError: health === 'down' ? 'connection refused' : '',
    lastScrape: '2024-01-01T00:00:00Z',
    lastScrapeDuration: 0.012,
  };
}

describe('groupTargets', () => {
  it('groups by pool, sorts pools and targets, counts healthy ones', () => {
    const pools = groupTargets([
      target('node', 'http://b:9100/metrics', 'down'),
      target('app', 'http://x:8080/metrics', 'up'),
      target('node', 'http://a:9100/metrics', 'up'),
      target('node', 'http://c:9100/metrics', 'unknown'),
    ]);
    expect(pools.map((pool) => pool.name)).toEqual(['app', 'node']);
    expect(pools[1]?.targets.map((t) => t.scrapeUrl)).toEqual([
      'http://a:9100/metrics',
      'http://b:9100/metrics',
      'http://c:9100/metrics',
    ]);
    expect(pools.map((pool) => [pool.up, pool.targets.length])).toEqual([
      [1, 1],
      [1, 3],
    ]);
  });

  it('returns no pools for no targets', () => {
    expect(groupTargets([])).toEqual([]);
  });
});

describe('healthKind', () => {
  it('maps health to badge colours', () => {
    expect(healthKind('up')).toBe('ok');
    expect(healthKind('down')).toBe('bad');
    expect(healthKind('unknown')).toBe('neutral');
  });
});

describe('describeResult', () => {
  it('counts series of vectors and matrices', () => {
    expect(describeResult({ resultType: 'vector', result: [{}, {}] })).toBe('vector, 2 series');
    expect(describeResult({ resultType: 'matrix', result: [] })).toBe('matrix, 0 series');
  });
  it('shows the value of scalars and strings', () => {
    expect(describeResult({ resultType: 'scalar', result: [1700000000, '42'] })).toBe('scalar: 42');
    expect(describeResult({ resultType: 'string', result: [1700000000, 'hello'] })).toBe('string: hello');
  });
});
