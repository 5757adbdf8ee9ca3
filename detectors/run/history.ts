/**
 * Stored events, read back from ClickHouse in time order: how the runtime rebuilds its state on
 * start and on partition assignment, and what the backtest runs through the detectors.
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
}

type Row = Record<(typeof HISTORY_COLUMNS)[number], string | number>;

/** The numeric columns (JSONEachRow quotes 64-bit integers as strings); every other one is a string. */
const NUMBER_COLUMNS: ReadonlySet<string> = new Set(['time_ms', 'exp', 'lat', 'lon', 'geo_radius_km']);

function toInput(r: Row): DetectorInput {
  const input: Record<string, string | number> = {};
  for (const c of HISTORY_COLUMNS) input[c] = NUMBER_COLUMNS.has(c) ? Number(r[c]) : String(r[c]);
  return input as unknown as DetectorInput;
}

export function historySql(database: string, range: HistoryRange): string {
  const families = Math.floor(range.familiesFromS);
  const tokens = Math.floor(range.tokensFromS);
  const upper = range.toS === undefined ? '' : `\n  AND time < toDateTime(${Math.floor(range.toS)})`;
  // The first condition lets ClickHouse skip old partitions. No FINAL: detectors take a repeated
  // event as one (and FINAL is slow on 18.16).
  return `SELECT ${HISTORY_COLUMNS.join(', ')}
FROM ${database}.events
WHERE time >= toDateTime(${Math.min(families, tokens)})${upper}
  AND ((type != 'verification' AND time >= toDateTime(${families}))
    OR (type = 'verification' AND time >= toDateTime(${tokens})))
ORDER BY time_ms`;
}

/**
 * Streams stored events in time order, calling `each` for those `keep` accepts; logs progress
 * every 5 s. Resolves with the number of events read and kept.
 */
export async function readHistory(
  client: ClickHouseClient,
  database: string,
  range: HistoryRange,
  each: (e: DetectorInput) => void,
  options: { keep?: (tenant: string, subject: string) => boolean; log?: Logger; signal?: AbortSignal } = {},
): Promise<{ read: number; kept: number }> {
  const result = await client.query({
    query_id: queryId('detectors/run/history'),
    query: historySql(database, range),
    format: 'JSONEachRow',
    abort_signal: options.signal,
  });
  let read = 0;
  let kept = 0;
  let lastLog = Date.now();
  for await (const rows of result.stream<Row>()) {
    for (const row of rows) {
      read++;
      const r = row.json();
      if (options.keep !== undefined && !options.keep(String(r.tenant), String(r.subject))) continue;
      kept++;
      each(toInput(r));
    }
    if (options.log !== undefined && Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      options.log.info({ read, kept }, 'reading stored events');
    }
  }
  return { read, kept };
}
