/**
 * TabSeparated encoding of event rows: ClickHouse parses it several times faster than JSONEachRow
 * (no key lookups) and it is smaller on the wire. Works the same on 18.16 and current ClickHouse.
 */
import type { EventRow } from '../pipeline/rows.ts';

/** Every column of the events table, in the order the encoder writes them. */
export const EVENT_COLUMNS = [
  'event_id',
  'type',
  'time',
  'time_ms',
  'received_at',
  'received_ms',
  'tenant',
  'source',
  'subject',
  'client_id',
  'session_id',
  'ip',
  'user_agent',
  'device_id',
  'outcome',
  'reason',
  'jti',
  'iss',
  'aud',
  'kid',
  'alg',
  'iat',
  'exp',
  'family_id',
  'token_id',
  'new_token_id',
  'access_jti',
  'country',
  'region',
  'city',
  'lat',
  'lon',
  'geo_radius_km',
  'extra',
  'kafka_partition',
  'kafka_partitions',
  'reporter_id',
  'reporter_role',
  'reporter_door',
  'asn',
  'as_org',
  'network_kind',
  'bound_key_kind',
  'bound_key_thumbprint',
  'proof_key_thumbprint',
  'device_id_source',
] as const satisfies readonly (keyof EventRow)[];

// A compile-time check that EVENT_COLUMNS names every EventRow field.
type Missing = Exclude<keyof EventRow, (typeof EVENT_COLUMNS)[number]>;
const everyColumn: [Missing] extends [never] ? true : Missing = true;
void everyColumn;

const NEEDS_ESCAPE = /[\t\n\r\\\0]/;
const TSV_ESCAPES: Record<string, string> = {
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\\': '\\\\',
  '\0': '\\0',
};

/** A String value in TSV: backslash escapes for tab, newline, CR, NUL and backslash. */
export function tsvString(value: string): string {
  return NEEDS_ESCAPE.test(value) ? value.replace(/[\t\n\r\\\0]/g, (c) => TSV_ESCAPES[c]!) : value;
}

/** An Array(String) value in TSV: ClickHouse reads the quoted literal form ['a','b'] directly. */
export function tsvStringArray(values: string[]): string {
  let out = '[';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += `'${values[i]!.replace(/[\\'\t\n\r\0]/g, (c) => (c === "'" ? "\\'" : TSV_ESCAPES[c]!))}'`;
  }
  return `${out}]`;
}

/** Rows encoded per chunk of encodeEventRowsTsvChunks (about a millisecond of work each). */
const ROWS_PER_CHUNK = 500;

/** The TSV of `rows`, a chunk of ROWS_PER_CHUNK rows at a time (an insert streams it as ClickHouse reads). */
export function* encodeEventRowsTsvChunks(rows: EventRow[]): Generator<string> {
  for (let i = 0; i < rows.length; i += ROWS_PER_CHUNK)
    yield encodeEventRowsTsv(rows.slice(i, i + ROWS_PER_CHUNK));
}

export function encodeEventRowsTsv(rows: EventRow[]): string {
  const lines: string[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    lines[i] = [
      tsvString(r.event_id),
      r.type,
      r.time,
      r.time_ms,
      r.received_at,
      r.received_ms,
      tsvString(r.tenant),
      tsvString(r.source),
      tsvString(r.subject),
      tsvString(r.client_id),
      tsvString(r.session_id),
      r.ip,
      tsvString(r.user_agent),
      tsvString(r.device_id),
      tsvString(r.outcome),
      tsvString(r.reason),
      tsvString(r.jti),
      tsvString(r.iss),
      tsvStringArray(r.aud),
      tsvString(r.kid),
      tsvString(r.alg),
      r.iat,
      r.exp,
      tsvString(r.family_id),
      tsvString(r.token_id),
      tsvString(r.new_token_id),
      tsvString(r.access_jti),
      r.country,
      tsvString(r.region),
      tsvString(r.city),
      r.lat,
      r.lon,
      r.geo_radius_km,
      tsvString(r.extra),
      r.kafka_partition,
      r.kafka_partitions,
      tsvString(r.reporter_id),
      tsvString(r.reporter_role),
      r.reporter_door,
      r.asn,
      tsvString(r.as_org),
      r.network_kind,
      tsvString(r.bound_key_kind),
      tsvString(r.bound_key_thumbprint),
      tsvString(r.proof_key_thumbprint),
      tsvString(r.device_id_source),
    ].join('\t');
  }
  return `${lines.join('\n')}\n`;
}
