/**
 * Stored events, read back from ClickHouse in time order: how the runtime rebuilds its state on
 * start and on partition assignment, and what the backtest runs through the detectors.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { DetectorInput } from './runtime.ts';

export const HISTORY_COLUMNS = [
  'event_id',
  'type',
  'time_ms',
  'tenant',
  'subject',
  'source',
  'client_id',
  'session_id',
  'ip',
  'user_agent',
  'device_id',
  'outcome',
  'reason',
  'jti',
  'alg',
  'exp',
  'family_id',
  'token_id',
  'new_token_id',
  'access_jti',
  'country',
  'city',
  'lat',
  'lon',
  'geo_radius_km',
] as const;

export interface HistoryRange {
  /** refresh, issuance and revocation events from here (seconds): refresh families live long */
  familiesFromS: number;
  /** verification events from here (seconds): access tokens live minutes */
  tokensFromS: number;
  /** up to (exclusive, seconds); default: everything */
  toS?: number;
}

type Row = Record<(typeof HISTORY_COLUMNS)[number], string | number>;

function toInput(r: Row): DetectorInput {
  return {
    event_id: String(r.event_id),
    type: String(r.type),
    time_ms: Number(r.time_ms),
    tenant: String(r.tenant),
    subject: String(r.subject),
    source: String(r.source),
    client_id: String(r.client_id),
    session_id: String(r.session_id),
    ip: String(r.ip),
    user_agent: String(r.user_agent),
    device_id: String(r.device_id),
    outcome: String(r.outcome),
    reason: String(r.reason),
    jti: String(r.jti),
    alg: String(r.alg),
    exp: Number(r.exp),
    family_id: String(r.family_id),
    token_id: String(r.token_id),
    new_token_id: String(r.new_token_id),
    access_jti: String(r.access_jti),
    country: String(r.country),
    city: String(r.city),
    lat: Number(r.lat),
    lon: Number(r.lon),
    geo_radius_km: Number(r.geo_radius_km),
  };
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
