/** enrich → rows: the ClickHouse rows for a normalized event (with geo) and for a dead letter. */
import { randomUUID } from 'node:crypto';
import type { GeoLookup } from './geo.ts';
import { redactRawTokens } from './raw-token.ts';
import type { EventError, NormalizedEvent } from './validate.ts';

export interface EventRow {
  event_id: string;
  type: string;
  time: number;
  time_ms: number;
  received_at: number;
  received_ms: number;
  tenant: string;
  source: string;
  subject: string;
  client_id: string;
  session_id: string;
  ip: string;
  user_agent: string;
  device_id: string;
  outcome: string;
  reason: string;
  jti: string;
  iss: string;
  aud: string[];
  kid: string;
  alg: string;
  iat: number;
  exp: number;
  family_id: string;
  token_id: string;
  new_token_id: string;
  access_jti: string;
  country: string;
  region: string;
  city: string;
  lat: number;
  lon: number;
  geo_radius_km: number;
  extra: string;
}

export interface DeadLetterRow {
  letter_id: string;
  received_at: number;
  received_ms: number;
  door: 'http' | 'kafka' | 'clickhouse';
  tenant: string;
  origin: string;
  event_index: number;
  event_id: string;
  code: string;
  message: string;
  field: string;
  payload: string;
  payload_bytes: number;
  truncated: number;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

export function toEventRow(e: NormalizedEvent, geo: GeoLookup, receivedMs: number): EventRow {
  const f = e.fields;
  const g = geo.lookup(e.ip);
  const aud = f['aud'];
  return {
    event_id: e.event_id,
    type: e.type,
    time: Math.floor(e.time / 1000),
    time_ms: e.time,
    received_at: Math.floor(receivedMs / 1000),
    received_ms: receivedMs,
    tenant: e.tenant,
    source: e.source,
    subject: e.subject,
    client_id: str(f['client_id']),
    session_id: str(f['session_id']),
    ip: e.ip,
    user_agent: str(f['user_agent']),
    device_id: str(f['device_id']),
    outcome: str(f['outcome']),
    reason: str(f['reason']),
    jti: str(f['jti']),
    iss: str(f['iss']),
    aud: Array.isArray(aud) ? aud : typeof aud === 'string' ? [aud] : [],
    kid: str(f['kid']),
    alg: str(f['alg']),
    iat: num(f['iat']),
    exp: num(f['exp']),
    family_id: str(f['family_id']),
    token_id: str(f['token_id']),
    new_token_id: str(f['new_token_id']),
    access_jti: str(f['access_jti']),
    country: g.country,
    region: g.region,
    city: g.city,
    lat: g.lat,
    lon: g.lon,
    geo_radius_km: g.radius_km,
    extra: Object.keys(e.extra).length === 0 ? '' : JSON.stringify(e.extra),
  };
}

export interface DeadLetterInput {
  door: 'http' | 'kafka';
  tenant: string;
  /** where it came from: `topic/partition/offset` for Kafka, the client address for HTTP */
  origin: string;
  /** stable id for re-deliveries (Kafka: topic/partition/offset); random otherwise */
  letterId?: string;
  eventIndex: number;
  error: EventError;
  /** the event as received (text); stored truncated and with raw tokens redacted */
  payload: string;
  receivedMs: number;
}

/** The longest prefix of `text` that fits in `maxBytes` of UTF-8, cut on a character boundary. */
function truncateUtf8(text: string, maxBytes: number): string {
  const buf = Buffer.from(text);
  let end = maxBytes;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}

const EVENT_ID = /"event_id"\s*:\s*"([^"\\]{1,128})"/;

export function toDeadLetterRow(d: DeadLetterInput, maxPayloadBytes: number): DeadLetterRow {
  const redacted = redactRawTokens(d.payload);
  const bytes = Buffer.byteLength(d.payload);
  const truncated = Buffer.byteLength(redacted) > maxPayloadBytes;
  const payload = truncated ? truncateUtf8(redacted, maxPayloadBytes) : redacted;
  return {
    letter_id: d.letterId ?? randomUUID(),
    received_at: Math.floor(d.receivedMs / 1000),
    received_ms: d.receivedMs,
    door: d.door,
    tenant: d.tenant,
    origin: d.origin,
    event_index: d.eventIndex,
    event_id: redactRawTokens(EVENT_ID.exec(d.payload.slice(0, 4096))?.[1] ?? ''),
    code: d.error.code,
    message: redactRawTokens(d.error.message),
    field: d.error.field ?? '',
    payload,
    payload_bytes: bytes,
    truncated: truncated ? 1 : 0,
  };
}

/** The dead letter of an event row ClickHouse refused at insert (for example after a column type changed). */
export function rejectedRowLetter(row: EventRow, message: string): DeadLetterRow {
  const payload = JSON.stringify(row);
  return {
    letter_id: `rejected:${row.tenant}:${row.event_id}`,
    received_at: row.received_at,
    received_ms: row.received_ms,
    door: 'clickhouse',
    tenant: row.tenant,
    origin: 'clickhouse insert',
    event_index: -1,
    event_id: row.event_id,
    code: 'insert_rejected',
    message: `ClickHouse refused the row: ${message.slice(0, 1000)}`,
    field: '',
    payload,
    payload_bytes: Buffer.byteLength(payload),
    truncated: 0,
  };
}
