/**
 * Who reported an event, across Kafka: the HTTP door in Kafka mode (and the Kafka door, for the
 * events of bound producers' topics) relays events it accepted to the events topic with their
 * reporter (id, role, door) in message headers, and the consumers (ingest, detectors) take it back.
 * A header names a role the relayed event was already checked against — so a producer writing to
 * the topic must not be able to write one: with `TOKENWATCH_RELAY_SECRET` set, the headers carry an
 * HMAC-SHA256 over themselves and the message's value (the whole event), and headers without a
 * valid one are refused (`unverified_reporter`). A message without these headers (a legacy producer
 * writing to the shared topic itself) has no known reporter and keeps the rights of a key without a role.
 */
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { REPORTER_ROLES, type ReporterRole } from '../../platform/http/api-keys.ts';
import { cut } from '../../platform/text.ts';
import type { EventError, Reporter } from './validate.ts';

export const REPORTER_ID_HEADER = 'tokenwatch-reporter-id';
export const REPORTER_ROLE_HEADER = 'tokenwatch-reporter-role';
export const REPORTER_DOOR_HEADER = 'tokenwatch-reporter-door';
export const REPORTER_SIG_HEADER = 'tokenwatch-reporter-sig';

/** Shortest relay secret accepted (32 characters: 192 bits and more of a random string). */
export const MIN_RELAY_SECRET_LENGTH = 32;

const ROLES: ReadonlySet<string> = new Set(REPORTER_ROLES);
const MAX_ID = 128;

/** The secret as a key, imported once (not per message); one secret per process. */
let hmacKey: { secret: string; key: KeyObject } | undefined;
/** The signed prefix of the last reporter: a request's or a batch's events share theirs. */
let lastPrefix: { id: string; role: string; door: string; prefix: string } | undefined;

/** The signature of headers `id`, `role`, `door` on a message whose value is `value` (base64url). */
export function reporterSignature(
  secret: string,
  r: { id: string; role: string; door: string },
  value: string | Buffer,
): string {
  if (hmacKey?.secret !== secret) hmacKey = { secret, key: createSecretKey(Buffer.from(secret, 'utf8')) };
  if (lastPrefix?.id !== r.id || lastPrefix.role !== r.role || lastPrefix.door !== r.door)
    lastPrefix = {
      id: r.id,
      role: r.role,
      door: r.door,
      prefix: `${JSON.stringify(['tokenwatch-reporter/v1', r.id, r.role, r.door])}\n`,
    };
  return createHmac('sha256', hmacKey.key).update(lastPrefix.prefix).update(value).digest('base64url');
}

/**
 * The headers of a relayed event (none when its reporter is unknown); signed when `secret` is set.
 * A role '' and the door `http` are read where their header is absent, so those headers are left
 * out (each header costs the producer and every consumer an encoding and a decoding per message) and
 * signed as absent (''), as every reader — this version's and older ones — verifies what it reads.
 */
export function reporterHeaders(
  r: Reporter | undefined,
  value: string | Buffer,
  secret: string,
): Record<string, string> | undefined {
  if (r === undefined || (r.id === '' && r.role === '')) return undefined;
  const written = { id: cut(r.id, MAX_ID), role: r.role, door: r.door === 'kafka' ? 'kafka' : '' };
  const headers: Record<string, string> = { [REPORTER_ID_HEADER]: written.id };
  if (written.role !== '') headers[REPORTER_ROLE_HEADER] = written.role;
  if (written.door !== '') headers[REPORTER_DOOR_HEADER] = written.door;
  if (secret !== '') headers[REPORTER_SIG_HEADER] = reporterSignature(secret, written, value);
  return headers;
}

type KafkaHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined> | IncomingHttpHeaders;

const text = (v: unknown): string => {
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined || one === null ? '' : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
};

/** What a consumed message's headers say of its reporter: none, one (believed), or a refusal. */
export type HeaderReporter =
  /** `signed`: the signature by the relay secret matched the headers and the value */
  { ok: true; reporter?: Reporter; signed?: true } | { ok: false; error: EventError };

const unverified = (why: string): HeaderReporter => ({
  ok: false,
  error: {
    code: 'unverified_reporter',
    message: `the message names a reporter in ${REPORTER_ID_HEADER}/${REPORTER_ROLE_HEADER} headers, ${why}: only tokenwatch's relay may name one (check that every instance has the same TOKENWATCH_RELAY_SECRET); producers write to a topic bound to them (TOKENWATCH_KAFKA_PRODUCER_TOPICS) without these headers`,
  },
});

/**
 * The reporter a consumed message's headers name, for the validation context. With `secret` ''
 * (no relay secret configured) headers are believed as they are; otherwise only with a valid signature.
 */
export function reporterFromHeaders(
  headers: KafkaHeaders | undefined,
  value: string | Buffer,
  secret: string,
): HeaderReporter {
  if (headers === undefined) return { ok: true };
  const id = text(headers[REPORTER_ID_HEADER]);
  const rawRole = text(headers[REPORTER_ROLE_HEADER]);
  const rawDoor = text(headers[REPORTER_DOOR_HEADER]);
  if (id === '' && rawRole === '') return { ok: true };
  if (secret !== '') {
    const sig = Buffer.from(text(headers[REPORTER_SIG_HEADER]), 'utf8');
    if (sig.length === 0) return unverified('without a signature');
    const expected = Buffer.from(
      reporterSignature(secret, { id, role: rawRole, door: rawDoor }, value),
      'utf8',
    );
    if (sig.length !== expected.length || !timingSafeEqual(sig, expected))
      return unverified('with a signature that does not match them and the event');
  }
  const role: ReporterRole | '' = ROLES.has(rawRole) ? (rawRole as ReporterRole) : '';
  const reporter: Reporter = { id: cut(id, MAX_ID), role, door: rawDoor === 'kafka' ? 'kafka' : 'http' };
  return secret !== '' ? { ok: true, reporter, signed: true } : { ok: true, reporter };
}
