/**
 * Stored events, read back from ClickHouse in time order: how the runtime rebuilds its state on
 * start and on partition assignment, and what the backtest runs through the detectors.
 *
 * On assignment only the new partitions' subjects are asked for: each event records the partition
 * of its `tenant:subject` and the topic's partition count (`kafka_partition`, `kafka_partitions`,
 * written by the ingest's Kafka source). Rows that do not know theirs, or were filed under another
 * count (stored before the column, by a single process, or before the topic grew), cannot be told
 * apart in SQL — ClickHouse 18.16 has no Kafka murmur2 (its `murmurHash2_32` has another seed, and
 * there is no fold to write one) — so those are read too, and the caller's `keep` decides.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import { queryId } from '../../platform/clickhouse/query-id.ts';
import { DETECTOR_FIELDS } from '../types.ts';
import type { DetectorInput } from './runtime.ts';

/** The columns read back: the event's type and the fields detectors read. */
export const HISTORY_COLUMNS = ['type', ...DETECTOR_FIELDS] as const;

export interface HistoryRange {
  /** refresh, issuance and revocation events from here (seconds): refresh families live long */
  familiesFromS: number;
  /** verification events from here (seconds): access tokens live minutes */
  tokensFromS: number;
  /** up to (exclusive, seconds); default: everything */
  toS?: number;
  /**
   * only the subjects of these partitions: partition count → partitions (of the events topics with
   * that count); rows filed under another count (or none) are read as well. Default: every subject.
   */
  partitions?: ReadonlyMap<number, readonly number[]>;
}

type Row = Record<(typeof HISTORY_COLUMNS)[number], string | number>;

/** The numeric columns (JSONEachRow quotes 64-bit integers as strings); every other one is a string. */
const NUMBER_COLUMNS: ReadonlySet<string> = new Set(['time_ms', 'exp', 'lat', 'lon', 'geo_radius_km', 'asn']);

function toInput(r: Row): DetectorInput {
  const input: Record<string, string | number> = {};
  for (const c of HISTORY_COLUMNS) input[c] = NUMBER_COLUMNS.has(c) ? Number(r[c]) : String(r[c]);
  return input as unknown as DetectorInput;
}

export function historySql(database: string, range: HistoryRange): string {
  const families = Math.floor(range.familiesFromS);
  const tokens = Math.floor(range.tokensFromS);
  const upper = range.toS === undefined ? '' : `\n  AND time < toDateTime(${Math.floor(range.toS)})`;
  const partitions = range.partitions === undefined ? '' : `\n  AND ${partitionCondition(range.partitions)}`;
  // The first condition lets ClickHouse skip old partitions. No FINAL: detectors take a repeated
  // event as one (and FINAL is slow on 18.16).
  return `SELECT ${HISTORY_COLUMNS.join(', ')}
FROM ${database}.events
WHERE time >= toDateTime(${Math.min(families, tokens)})${upper}
  AND ((type != 'verification' AND time >= toDateTime(${families}))
    OR (type = 'verification' AND time >= toDateTime(${tokens})))${partitions}
ORDER BY time_ms`;
}

/** `kafka_partitions = n AND kafka_partition IN (…)` per count, or a count none of them has. */
export function partitionCondition(byCount: ReadonlyMap<number, readonly number[]>): string {
  const counts = [...byCount.keys()].map((n) => Math.floor(n)).filter((n) => n > 0);
  const mine = counts
    .map((n) => {
      const ps = [...new Set(byCount.get(n) ?? [])].map((p) => Math.floor(p)).sort((a, b) => a - b);
      return ps.length === 0 ? '' : `(kafka_partitions = ${n} AND kafka_partition IN (${ps.join(', ')}))`;
    })
    .filter((c) => c !== '');
  const unknown = counts.length === 0 ? '1' : `kafka_partitions NOT IN (${counts.join(', ')})`;
  return `(${[...mine, unknown].join(' OR ')})`;
}

/**
 * Streams the rows of a (large, rare) query, calling `each` for the rows of the subjects `keep`
 * accepts (`o.by`: the module asking, for the query_id); logs progress every 5 s as `progress`. Resolves with the rows read and kept, the query's
 * id (its row in system.query_log says what ClickHouse scanned for it) and how long it took.
 */
export async function streamSubjectRows<R extends { tenant: string | number; subject: string | number }>(
  client: ClickHouseClient,
  o: { by: string; sql: string; signal?: AbortSignal | undefined },
  each: (row: R) => void,
  options: { keep?: (tenant: string, subject: string) => boolean; log?: Logger; progress: string },
): Promise<{ read: number; kept: number; queryId: string; ms: number }> {
  const started = Date.now();
  const result = await client.query({
    query_id: queryId(o.by),
    query: o.sql,
    format: 'JSONEachRow',
    // Logged whatever the profile says (it is rare and large)
    clickhouse_settings: { log_queries: 1 },
    abort_signal: o.signal,
  });
  let read = 0;
  let kept = 0;
  let lastLog = Date.now();
  for await (const rows of result.stream<R>()) {
    for (const row of rows) {
      read++;
      const r = row.json();
      if (options.keep !== undefined && !options.keep(String(r.tenant), String(r.subject))) continue;
      kept++;
      each(r);
    }
    if (options.log !== undefined && Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      options.log.info({ read, kept }, options.progress);
    }
  }
  return { read, kept, queryId: result.query_id, ms: Date.now() - started };
}

/** Streams stored events in time order, calling `each` for those `keep` accepts (streamSubjectRows). */
export function readHistory(
  client: ClickHouseClient,
  database: string,
  range: HistoryRange,
  each: (e: DetectorInput) => void,
  options: { keep?: (tenant: string, subject: string) => boolean; log?: Logger; signal?: AbortSignal } = {},
): Promise<{ read: number; kept: number; queryId: string; ms: number }> {
  const { signal, ...rest } = options;
  return streamSubjectRows<Row>(
    client,
    { by: 'detectors/run/history', sql: historySql(database, range), signal },
    (r) => each(toInput(r)),
    { ...rest, progress: 'reading stored events' },
  );
}
