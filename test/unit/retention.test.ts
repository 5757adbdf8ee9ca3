import type { ClickHouseClient } from '@clickhouse/client';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { featuresOf } from '../../ingest/clickhouse/client.ts';
import { dropExpiredPartitions, expiredPartitions } from '../../ingest/clickhouse/retention.ts';

const log = pino({ level: 'silent' });

describe('expiredPartitions', () => {
  const noon = Date.parse('2026-03-01T12:00:00Z');

  it('drops day partitions before the day retentionDays ago, keeping that day', () => {
    // 90 days before 2026-03-01T12:00Z is 2025-12-01T12:00Z.
    expect(
      expiredPartitions(['20251129', '20251130', '20251201', '20251202', '20260301'], 90, noon),
    ).toStrictEqual(['20251129', '20251130']);
  });

  it('cuts off at exactly retentionDays, at the UTC day boundary', () => {
    const midnight = Date.parse('2026-03-01T00:00:00Z');
    expect(expiredPartitions(['20260226', '20260227', '20260228'], 1, midnight)).toStrictEqual([
      '20260226',
      '20260227',
    ]);
    expect(expiredPartitions(['20260226', '20260227', '20260228'], 1, midnight - 1)).toStrictEqual([
      '20260226',
    ]);
  });

  it('compares across months and years', () => {
    expect(expiredPartitions(['20241231', '20250101', '20251231'], 365, noon)).toStrictEqual([
      '20241231',
      '20250101',
    ]);
  });

  it('ignores partition ids that are not YYYYMMDD', () => {
    expect(
      expiredPartitions(
        ['all', 'tuple()', '2025113', '202511300', '2025-11-30', ' 20251130', '20251130'],
        90,
        noon,
      ),
    ).toStrictEqual(['20251130']);
    expect(expiredPartitions([], 90, noon)).toStrictEqual([]);
  });
});

/** A stand-in for the ClickHouse client that answers system.parts and records commands. */
class FakeClickHouse {
  readonly queries: string[] = [];
  readonly commands: string[] = [];
  readonly parts: Record<string, string[]>;

  constructor(parts: Record<string, string[]>) {
    this.parts = parts;
  }

  async query({ query }: { query: string }) {
    this.queries.push(query);
    const table = /AND table = '(\w+)'/.exec(query)?.[1] ?? '';
    const rows = (this.parts[table] ?? []).map((partition) => ({ partition }));
    return { json: async () => rows };
  }

  async command({ query }: { query: string }) {
    this.commands.push(query);
    return {};
  }
}

describe('dropExpiredPartitions', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');
  const parts = {
    events: ['20251101', '20260301'],
    events_by_token: ['20251101'],
    dead_letters: ['20260228'],
  };

  it('does nothing on a server with TTL', async () => {
    const fake = new FakeClickHouse(parts);
    const dropped = await dropExpiredPartitions(
      fake as unknown as ClickHouseClient,
      { database: 'tw', cluster: '', retentionDays: 90 },
      featuresOf('24.8.1.1'),
      log,
      now,
    );
    expect(dropped).toBe(0);
    expect(fake.queries).toStrictEqual([]);
  });

  it('drops expired partitions of every retained table on 18.16, ON CLUSTER in cluster mode', async () => {
    const fake = new FakeClickHouse(parts);
    const dropped = await dropExpiredPartitions(
      fake as unknown as ClickHouseClient,
      { database: 'tw', cluster: 'prod', retentionDays: 90 },
      featuresOf('18.16.1'),
      log,
      now,
    );
    expect(dropped).toBe(2);
    expect(fake.queries).toStrictEqual(
      ['events', 'events_by_token', 'dead_letters'].map(
        (t) =>
          `SELECT DISTINCT partition FROM system.parts WHERE database = 'tw' AND table = '${t}' AND active`,
      ),
    );
    expect(fake.commands).toStrictEqual([
      'ALTER TABLE tw.events ON CLUSTER prod DROP PARTITION 20251101',
      'ALTER TABLE tw.events_by_token ON CLUSTER prod DROP PARTITION 20251101',
    ]);
  });
});
