/**
 * The benchmarks' ClickHouse databases: a fresh, migrated one per measurement on a quiet server,
 * row counts, and the rate at which a table fills.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { pino } from 'pino';
import { featuresOf } from '../../platform/clickhouse/client.ts';
import { migrate } from '../../platform/clickhouse/migrate.ts';

export async function count(ch: ClickHouseClient, table: string): Promise<number> {
  const rs = await ch.query({ query: `SELECT count() AS n FROM ${table}`, format: 'JSONEachRow' });
  const [row] = await rs.json<{ n: string }>();
  return Number(row?.n ?? 0);
}

/** The server's version, e.g. 18.16.1. */
export async function serverVersion(ch: ClickHouseClient): Promise<string> {
  const rs = await ch.query({ query: 'SELECT version() AS version', format: 'JSONEachRow' });
  const [row] = await rs.json<{ version: string }>();
  if (row === undefined) throw new Error('ClickHouse answered SELECT version() with no row');
  return row.version;
}

/** Drops earlier bench databases and waits until background merges are done, so each measurement starts on a quiet server. */
async function quiesce(ch: ClickHouseClient) {
  const rs = await ch.query({
    query: "SELECT name FROM system.databases WHERE name LIKE 'bench\\_%'",
    format: 'JSONEachRow',
  });
  for (const { name } of await rs.json<{ name: string }>())
    await ch.command({ query: `DROP DATABASE IF EXISTS ${name}` });
  for (let i = 0; i < 300; i++) {
    const merges = await ch.query({ query: 'SELECT count() AS n FROM system.merges', format: 'JSONEachRow' });
    const [row] = await merges.json<{ n: string }>();
    if (Number(row?.n ?? 0) === 0) return;
    await sleep(100);
  }
}

/** A quiet server and a database `name` (which must start with `bench_`) with tokenwatch's schema. */
export async function freshDatabase(ch: ClickHouseClient, name: string, version: string) {
  await quiesce(ch);
  await migrate(
    ch,
    { database: name, cluster: '', retentionDays: 30 },
    featuresOf(version),
    pino({ level: 'silent' }),
  );
}

/**
 * Waits until `table` holds `n` rows; events/s from the first stored row to the last, or with
 * `fromMs` (a performance.now()) from then to the last.
 */
export async function rateUntil(
  ch: ClickHouseClient,
  table: string,
  n: number,
  log: (m: string) => void,
  fromMs?: number,
  timeoutMs = 600_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let first: { t: number; rows: number } | undefined;
  let lastLog = 0;
  for (;;) {
    const rows = await count(ch, table);
    const t = performance.now();
    if (first === undefined && rows > 0) first = { t, rows };
    if (rows >= n && first !== undefined)
      return fromMs === undefined ? (n - first.rows) / ((t - first.t) / 1000) : n / ((t - fromMs) / 1000);
    if (Date.now() > deadline) throw new Error(`${table}: ${rows}/${n} rows after ${timeoutMs} ms`);
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      log(`  ${table}: ${rows}/${n}`);
    }
    await sleep(50);
  }
}
