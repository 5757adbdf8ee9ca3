/** enrich → rows: the ClickHouse rows for a normalized event (with what its address says) and for a dead letter. */
import { randomUUID } from 'node:crypto';
import type { Refused } from '../../platform/clickhouse/refusals.ts';
import { cut, cutUtf8, stringifyWellFormed, wellFormedRow } from '../../platform/text.ts';
import type { IpIntel } from '../ipintel/provider.ts';
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
  /** the address's autonomous system number and its holder (0 and '': unknown or no ASN source) */
  asn: number;
  as_org: string;
  /** hosting / anonymizer / mobile / residential / satellite where a source says it; '' unknown */
  network_kind: string;
  extra: string;
  /** the partition of `tenant:subject` among `kafka_partitions` (0 and 0: not consumed from Kafka) */
  kafka_partition: number;
  kafka_partitions: number;
  /** who reported it: the sending key's id ('' when the door has no key), its role, the door */
  reporter_id: string;
  reporter_role: string;
  reporter_door: string;
  /** key binding: `dpop` / `mtls` / '', the token's bound key and the key that proved possession */
  bound_key_kind: string;
  bound_key_thumbprint: string;
  proof_key_thumbprint: string;
  /** where device_id came from: `claim` / `auth_server` (strong), `header` / `cookie` (weak), '' unknown */
  device_id_source: string;
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

export function toEventRow(
  e: NormalizedEvent,
  intel: IpIntel,
  receivedMs: number,
  door: 'http' | 'kafka' | '' = '',
): EventRow {
  const f = e.fields;
  const g = intel.lookup(e.ip);
  const aud = f['aud'];
  // Well-formed already when validated from text; the check is one native scan per string.
  return wellFormedRow({
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
    asn: g.asn,
    as_org: g.as_org,
    network_kind: g.network_kind,
    extra: Object.keys(e.extra).length === 0 ? '' : stringifyWellFormed(e.extra),
    kafka_partition: 0,
    kafka_partitions: 0,
    reporter_id: e.reporter?.id ?? '',
    reporter_role: e.reporter?.role ?? '',
    reporter_door: e.reporter?.door || door,
    bound_key_kind: str(f['bound_key_kind']),
    bound_key_thumbprint: str(f['bound_key_thumbprint']),
    proof_key_thumbprint: str(f['proof_key_thumbprint']),
    device_id_source: str(f['device_id_source']),
  });
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

const EVENT_ID = /"event_id"\s*:\s*"([^"\\]{1,128})"/;

/** Bytes kept beyond the payload limit before redaction, so a token cut by the limit is still recognised whole. */
const REDACTION_MARGIN_BYTES = 16 * 1024;

export function toDeadLetterRow(d: DeadLetterInput, maxPayloadBytes: number): DeadLetterRow {
  const bytes = Buffer.byteLength(d.payload);
  // Cut first, then redact: the scan is linear, but it runs on a bounded text, never on a whole
  // oversized body.
  const head = cutUtf8(d.payload, maxPayloadBytes + REDACTION_MARGIN_BYTES);
  const redacted = redactRawTokens(head);
  const truncated = head.length < d.payload.length || Buffer.byteLength(redacted) > maxPayloadBytes;
  const payload = truncated ? cutUtf8(redacted, maxPayloadBytes) : redacted;
  return wellFormedRow({
    letter_id: d.letterId ?? randomUUID(),
    received_at: Math.floor(d.receivedMs / 1000),
    received_ms: d.receivedMs,
    door: d.door,
    tenant: cut(d.tenant, 64),
    origin: cut(d.origin, 256),
    event_index: d.eventIndex,
    event_id: redactRawTokens(EVENT_ID.exec(d.payload.slice(0, 4096))?.[1] ?? ''),
    code: d.error.code,
    message: cut(redactRawTokens(cutUtf8(d.error.message, 16 * 1024)), 2000, '…'),
    field: cut(redactRawTokens(cutUtf8(d.error.field ?? '', 16 * 1024)), 256, '…'),
    payload,
    payload_bytes: bytes,
    truncated: truncated ? 1 : 0,
  });
}

/** Fields that identify a row of one of tokenwatch's tables, in the order they are looked for. */
const ROW_IDS = ['event_id', 'detection_id', 'revocation_id', 'delivery_id', 'letter_id', 'seq'] as const;

/** Payload bytes kept of a refused row (ClickHouse's message says what was wrong with it). */
const REFUSED_PAYLOAD_BYTES = 16 * 1024;

/**
 * The dead letter of a row ClickHouse refused at insert into `table` (an event after a column type
 * changed under it, a detection, a revocation record…): door `clickhouse`, code `insert_rejected`,
 * the row as JSON (well-formed, cut) and the server's message. Its id is stable, so a retried
 * insert stores it once.
 */
export function refusedRowLetter(table: string, refused: Refused<object>, nowMs = Date.now()): DeadLetterRow {
  const row = refused.row as Record<string, unknown>;
  const name = table.slice(table.lastIndexOf('.') + 1);
  const idField = ROW_IDS.find((k) => row[k] !== undefined && row[k] !== '');
  const id = idField === undefined ? '' : cut(String(row[idField]), 128);
  const tenant = typeof row['tenant'] === 'string' ? cut(row['tenant'], 64) : '';
  const full = stringifyWellFormed(row);
  const payload = cutUtf8(redactRawTokens(cutUtf8(full, REFUSED_PAYLOAD_BYTES)), REFUSED_PAYLOAD_BYTES);
  const receivedMs = typeof row['received_ms'] === 'number' ? row['received_ms'] : nowMs;
  return wellFormedRow({
    letter_id: name === 'events' ? `rejected:${tenant}:${id}` : `rejected:${name}:${tenant}:${id}`,
    received_at: Math.floor(receivedMs / 1000),
    received_ms: receivedMs,
    door: 'clickhouse',
    tenant,
    origin: name === 'events' ? 'clickhouse insert' : `clickhouse insert into ${name}`,
    event_index: -1,
    event_id: name === 'events' ? id : typeof row['event_id'] === 'string' ? cut(row['event_id'], 128) : '',
    code: 'insert_rejected',
    message: `ClickHouse refused the row: ${cut(refused.message, 1000, '…')}`,
    field: '',
    payload,
    payload_bytes: Buffer.byteLength(full),
    truncated: payload.length < full.length ? 1 : 0,
  });
}
