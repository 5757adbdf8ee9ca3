/**
 * validate → normalize: turns one untrusted event (text or parsed value) into a NormalizedEvent,
 * or into an EventError that says what was wrong and where. Pure; never throws on bad input.
 */
import { FormatRegistry, type TObject } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { EVENT_SCHEMAS, EVENT_TYPES, type EventType, KNOWN_FIELDS } from '../../contract/event-v1.ts';
import type { ReporterRole } from '../../platform/http/api-keys.ts';
import { parseIp } from '../../platform/net/ip.ts';
import { cut, wellFormedDeep } from '../../platform/text.ts';
import { containsRawToken, findRawToken, redactRawTokens } from './raw-token.ts';

/**
 * Why an event was rejected, and what that means: the per-event `code` of POST /v1/events' answer,
 * of dead letters, and the `class` label of the rejects metric (docs/errors.md lists them).
 */
export const REJECT_CODES = {
  malformed_json: 'the event is not valid JSON',
  not_an_object: 'the event is JSON but not an object',
  oversized:
    'the event is over `TOKENWATCH_EVENT_MAX_BYTES` (one nested deeper than `TOKENWATCH_EVENT_MAX_DEPTH` is `invalid_field`)',
  unknown_type: '`type` is not one of the contract’s event types',
  missing_field: 'a field its type requires is absent (`field` names it)',
  invalid_field: 'a field is outside its schema (`field` names it)',
  invalid_time: '`time` is neither RFC 3339 nor epoch milliseconds',
  time_out_of_range:
    '`time` is older than `TOKENWATCH_MAX_EVENT_AGE_SECONDS` or further ahead than `TOKENWATCH_MAX_FUTURE_SKEW_SECONDS`',
  invalid_ip: '`ip` is not an IPv4 or IPv6 address',
  raw_token: 'a field or key holds what looks like a raw JWT (JWS or JWE): events carry ids and claims only',
  tenant_mismatch:
    '`tenant` is not the tenant of the API key that sent it, or (Kafka) of the producer topic it was written to (`TOKENWATCH_KAFKA_PRODUCER_TOPICS`)',
  outside_role:
    '`type` is not one the sending key’s (or producer topic’s) role may report: a `verifier` reports `verification` events only; issuance, refresh and revocation facts need an `auth-server` key (`TOKENWATCH_API_KEYS` entries `tenant:key:auth-server`) or topic (`TOKENWATCH_KAFKA_PRODUCER_TOPICS` entries `topic=tenant:auth-server`)',
  unverified_reporter:
    'Kafka only: the message names a reporter in `tokenwatch-reporter-*` headers without a valid signature by `TOKENWATCH_RELAY_SECRET` (a producer cannot name its own reporter): every instance needs the same secret; producers write to their bound topic without these headers',
  inconsistent_outcome: '`outcome` and `reason` disagree (`accepted`/`rotated` go with `ok` only)',
  misrouted:
    'Kafka only: the detectors found a copy they had re-routed once on the wrong partition again (the topic’s partition count changed?); it is stored, but the detectors did not run on it',
  unprocessable:
    'tokenwatch failed on the event itself (a bug): kept as a dead letter, never a failed request',
} as const;

export type RejectCode = keyof typeof REJECT_CODES;

export interface EventError {
  code: RejectCode;
  message: string;
  /** JSON pointer of the offending field, where there is one */
  field?: string;
}

export interface NormalizedEvent {
  event_id: string;
  type: EventType;
  /** epoch milliseconds */
  time: number;
  tenant: string;
  source: string;
  subject: string;
  ip: string;
  /** every other contract field that was present, as sent */
  fields: Record<string, string | number | string[]>;
  /** fields the contract does not know, kept out of the typed columns */
  extra: Record<string, unknown>;
  /** who reported it (the sending key), when the door knows */
  reporter?: Reporter;
}

/** Who reported an event: the key's id (never the key), its role ('' = none declared) and the door. */
export interface Reporter {
  id: string;
  role: ReporterRole | '';
  door: 'http' | 'kafka' | '';
}

/** The event types each role may report (a key without a role: every type). */
export const ROLE_MAY_REPORT: Record<ReporterRole, ReadonlySet<EventType>> = {
  verifier: new Set(['verification']),
  'auth-server': new Set(EVENT_TYPES),
};

export type ValidationResult =
  /** `relayText`: with `keepRelayText`, the event's own text when relaying it as it is gives the same event */
  { ok: true; event: NormalizedEvent; relayText?: string } | { ok: false; error: EventError };

export interface ValidationOptions {
  eventBytes: number;
  maxEventAgeSeconds: number;
  maxFutureSkewSeconds: number;
  /** deepest nesting of objects and arrays accepted (the event itself is depth 1); default 32 */
  maxDepth?: number;
}

export const DEFAULT_MAX_DEPTH = 32;

export interface ValidationContext {
  nowMs: number;
  /** the tenant the sender is authenticated as (HTTP API key, bound Kafka topic); events naming another tenant are refused */
  tenant?: string;
  /** what `tenant` comes from, for the refusal's message (default: the API key) */
  tenantOf?: string;
  /** who sends (HTTP API key): recorded with each event; types outside its role are refused */
  reporter?: Reporter;
  /**
   * the door relays what it accepts to the events topic: return the text as `relayText` when its
   * consumers, validating it again, get the very event validated here — it names its tenant, has no
   * byte-order mark and no `\u` escape, and is well-formed (the contract form is written otherwise)
   */
  keepRelayText?: boolean;
  /**
   * Kafka: the message's value carries a valid signature of tokenwatch's relay (kafka-origin.ts), so
   * the door that relayed it validated this very text: Stage validates it with validateRelayedText
   */
  signedRelay?: boolean;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** The largest time a JavaScript Date holds (year 275760). */
const MAX_TIME_MS = 8.64e15;

FormatRegistry.Set('date-time', (value) => RFC3339.test(value));

const CHECKS = Object.fromEntries(
  EVENT_TYPES.map((t) => [t, TypeCompiler.Compile(EVENT_SCHEMAS[t] as TObject)]),
) as Record<EventType, TypeCheck<TObject>>;

const TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);
const FIELDS_HANDLED_APART = new Set(['event_id', 'type', 'time', 'tenant', 'source', 'subject', 'ip']);

const fail = (code: RejectCode, message: string, field?: string): ValidationResult => ({
  ok: false,
  error: field === undefined ? { code, message } : { code, message, field },
});

/** Parses a time given as RFC 3339 text or epoch milliseconds; undefined when it is neither. */
export function parseEventTime(value: unknown): number | undefined {
  if (typeof value === 'number')
    return Number.isSafeInteger(value) && value >= 0 && value <= MAX_TIME_MS ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = RFC3339.exec(value);
  if (m === null) return undefined;
  // Date.parse rolls impossible dates over (Feb 30 → Mar 2); refuse them instead.
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59)
    return undefined;
  const ms = Date.parse(value.replace(' ', 'T'));
  return Number.isNaN(ms) ? undefined : ms;
}

/** Validates one event given as JSON text (an NDJSON line or a Kafka message value). */
export function validateEventText(
  text: string,
  opts: ValidationOptions,
  ctx: ValidationContext,
): ValidationResult {
  if (isLarger(text, opts.eventBytes)) return oversized(opts);
  let value: unknown;
  const bom = text.charCodeAt(0) === 0xfeff;
  try {
    // A byte-order mark (some Windows tools write one) is not part of the event.
    value = JSON.parse(bom ? text.slice(1) : text);
  } catch (err) {
    // V8's message quotes the input: cut it, on a code-point boundary (an emoji alone is two units).
    return fail('malformed_json', `not valid JSON: ${cut((err as Error).message, 200, '…')}`);
  }
  const deep = tooDeep(value, opts.maxDepth ?? DEFAULT_MAX_DEPTH);
  if (deep !== undefined) return deep;
  // Lone surrogates come only from \u escapes (or from a text that is not well-formed itself):
  // every string of such an event is made well-formed before anything reads it.
  const escaped = text.includes('\\u');
  const wellFormed = !escaped && text.isWellFormed();
  if (!wellFormed) value = wellFormedDeep(value);
  // A raw token shows in the text itself, unless escapes could hide one: then walk the values.
  if (containsRawToken(text)) {
    const field = findRawToken(value);
    if (field !== undefined) return rawTokenError(field);
  }
  const result = validateEventValue(value, opts, ctx, escaped, false);
  if (
    result.ok &&
    ctx.keepRelayText === true &&
    wellFormed &&
    !bom &&
    typeof (value as Record<string, unknown>)['tenant'] === 'string'
  )
    result.relayText = text;
  return result;
}

/**
 * Validates the text of a message whose value tokenwatch's relay signed (ValidationContext.signedRelay:
 * a valid HMAC by TOKENWATCH_RELAY_SECRET over the reporter and these very bytes). Only a holder of
 * the secret can sign, and tokenwatch signs only what its door validated (relay-message.ts): the
 * text is the door's accepted event, its own text or its contract form. So what the door checked of
 * the event itself is not checked again — the schema of its type, raw tokens, nesting depth,
 * well-formedness, outcome and reason. Checked again, as they depend on this instance (its limits,
 * its clock, its contract version) or make the stored row: the size limit, a known type the
 * reporter's role may report, the time (parsed, and inside this instance's window now), the tenant
 * the text names, the address (normalized). Anything else than the shape the relay writes (not an
 * object, no tenant, an unknown type or time, a bad address) goes through full validation, so the
 * answer is never laxer than validateEventText's — only cheaper for what the relay wrote.
 */
export function validateRelayedText(
  text: string,
  opts: ValidationOptions,
  ctx: ValidationContext,
): ValidationResult {
  if (isLarger(text, opts.eventBytes)) return oversized(opts);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return validateEventText(text, opts, ctx);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ctx.tenant !== undefined)
    return validateEventText(text, opts, ctx);
  const obj = value as Record<string, unknown>;
  const { type, tenant, ip: rawIp } = obj;
  const role = ctx.reporter?.role ?? '';
  const time = parseEventTime(obj['time']);
  const ip =
    rawIp === undefined || rawIp === ''
      ? ''
      : typeof rawIp === 'string'
        ? parseIp(rawIp)?.address
        : undefined;
  if (
    typeof type !== 'string' ||
    !TYPE_SET.has(type) ||
    (role !== '' && !ROLE_MAY_REPORT[role].has(type as EventType)) ||
    typeof tenant !== 'string' ||
    typeof obj['event_id'] !== 'string' ||
    time === undefined ||
    ip === undefined
  )
    return validateEventText(text, opts, ctx);
  return (
    outsideWindow(time, opts, ctx) ?? {
      ok: true,
      event: normalizedEvent(obj, type as EventType, time, tenant, ip, ctx),
    }
  );
}

/**
 * The invalid_field error for the first value nested deeper than `maxDepth`, or undefined.
 * Iterative, so no depth of input can overflow the stack (JSON.parse itself takes any depth).
 */
function tooDeep(value: unknown, maxDepth: number): ValidationResult | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const stack: { v: object; depth: number; path: string }[] = [{ v: value, depth: 1, path: '' }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    for (const [key, child] of Object.entries(item.v)) {
      if (child === null || typeof child !== 'object') continue;
      const path = `${item.path}/${cut(key, 64).replace(/~/g, '~0').replace(/\//g, '~1')}`;
      if (item.depth + 1 > maxDepth)
        return fail(
          'invalid_field',
          `${path}: nested deeper than ${maxDepth} levels of objects and arrays; send a flatter event`,
          path,
        );
      stack.push({ v: child, depth: item.depth + 1, path });
    }
  }
  return undefined;
}

/** Whether `text` is over `maxBytes` of UTF-8; a UTF-16 unit is at most 3 bytes, so short texts skip the count. */
function isLarger(text: string, maxBytes: number): boolean {
  return text.length * 3 > maxBytes && Buffer.byteLength(text) > maxBytes;
}

function oversized(opts: ValidationOptions): ValidationResult {
  return fail('oversized', `event is larger than ${opts.eventBytes} bytes (TOKENWATCH_EVENT_MAX_BYTES)`);
}

function rawTokenError(field: string | undefined): ValidationResult {
  return fail(
    'raw_token',
    'a field looks like a raw JWT; events must carry token ids and claims, never the token itself',
    // the pointer names the field, and a key may be the token itself
    field === undefined ? undefined : redactRawTokens(field),
  );
}

/**
 * Validates one already-parsed event. `scanForTokens`: walk every string for raw tokens;
 * `checkDepth`: refuse values nested deeper than the options allow (done already for text).
 */
export function validateEventValue(
  value: unknown,
  opts: ValidationOptions,
  ctx: ValidationContext,
  scanForTokens = true,
  checkDepth = true,
): ValidationResult {
  if (checkDepth) {
    const deep = tooDeep(value, opts.maxDepth ?? DEFAULT_MAX_DEPTH);
    if (deep !== undefined) return deep;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail(
      'not_an_object',
      `an event must be a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
    );
  }
  const obj = value as Record<string, unknown>;
  if (scanForTokens) {
    const hit = findRawToken(obj);
    if (hit !== undefined) return rawTokenError(hit);
  }
  const type = obj['type'];
  if (typeof type !== 'string' || !TYPE_SET.has(type)) {
    return fail(
      'unknown_type',
      `type must be one of ${EVENT_TYPES.join(', ')}; got ${type === undefined ? 'nothing' : shorten(type)}`,
      '/type',
    );
  }
  const role = ctx.reporter?.role ?? '';
  if (role !== '' && !ROLE_MAY_REPORT[role].has(type as EventType)) {
    return fail(
      'outside_role',
      `a ${role} key or producer topic may report ${[...ROLE_MAY_REPORT[role]].join(', ')} events only, not ${type}: send issuance, refresh and revocation facts with the auth server's key or topic (role auth-server)`,
      '/type',
    );
  }
  const check = CHECKS[type as EventType];
  if (!check.Check(obj)) {
    const first = check.Errors(obj).First();
    const field = first?.path || '/';
    if (field === '/time' && obj['time'] !== undefined) return invalidTime(obj['time']);
    if (first === undefined || first.value === undefined) {
      return fail('missing_field', `${field} is required for ${type} events`, field);
    }
    return fail(
      'invalid_field',
      `${field}: ${describeError(EVENT_SCHEMAS[type as EventType], field, first.message, first.value)}`,
      field,
    );
  }

  const time = parseEventTime(obj['time']);
  if (time === undefined) return invalidTime(obj['time']);
  const outOfWindow = outsideWindow(time, opts, ctx);
  if (outOfWindow !== undefined) return outOfWindow;

  const tenant = (obj['tenant'] as string | undefined) ?? ctx.tenant ?? 'default';
  if (ctx.tenant !== undefined && tenant !== ctx.tenant) {
    return fail(
      'tenant_mismatch',
      `event names tenant ${JSON.stringify(tenant)} but ${ctx.tenantOf ?? 'the API key'} belongs to ${JSON.stringify(ctx.tenant)}: a key or producer topic reports for its own tenant only`,
      '/tenant',
    );
  }

  let ip = '';
  if (typeof obj['ip'] === 'string' && obj['ip'] !== '') {
    const parsed = parseIp(obj['ip']);
    if (parsed === undefined)
      return fail('invalid_ip', `ip ${shorten(obj['ip'])} is not an IPv4 or IPv6 address`, '/ip');
    ip = parsed.address;
  }

  const outcome = obj['outcome'];
  const reason = obj['reason'];
  if (type === 'verification' && (outcome === 'accepted') !== (reason === 'ok')) {
    return fail(
      'inconsistent_outcome',
      `verification outcome ${JSON.stringify(outcome)} does not go with reason ${JSON.stringify(reason)} (accepted ⇔ ok)`,
      '/reason',
    );
  }
  if (type === 'refresh' && (outcome === 'rotated') !== (reason === 'ok')) {
    return fail(
      'inconsistent_outcome',
      `refresh outcome ${JSON.stringify(outcome)} does not go with reason ${JSON.stringify(reason)} (rotated ⇔ ok)`,
      '/reason',
    );
  }

  return { ok: true, event: normalizedEvent(obj, type as EventType, time, tenant, ip, ctx) };
}

/** time_out_of_range when `time` is outside the window around `ctx.nowMs` the options accept. */
function outsideWindow(
  time: number,
  opts: ValidationOptions,
  ctx: ValidationContext,
): ValidationResult | undefined {
  if (
    time >= ctx.nowMs - opts.maxEventAgeSeconds * 1000 &&
    time <= ctx.nowMs + opts.maxFutureSkewSeconds * 1000
  )
    return undefined;
  return fail(
    'time_out_of_range',
    `time ${new Date(time).toISOString()} is outside the accepted window (${opts.maxEventAgeSeconds}s in the past, ` +
      `${opts.maxFutureSkewSeconds}s in the future; TOKENWATCH_MAX_EVENT_AGE_SECONDS / TOKENWATCH_MAX_FUTURE_SKEW_SECONDS)`,
    '/time',
  );
}

/** The normalized event of a checked object: its contract fields apart from the fields it does not know. */
function normalizedEvent(
  obj: Record<string, unknown>,
  type: EventType,
  time: number,
  tenant: string,
  ip: string,
  ctx: ValidationContext,
): NormalizedEvent {
  const fields: NormalizedEvent['fields'] = {};
  const extra: Record<string, unknown> = {};
  for (const key of Object.keys(obj)) {
    if (FIELDS_HANDLED_APART.has(key)) continue;
    if (KNOWN_FIELDS.has(key)) fields[key] = obj[key] as string | number | string[];
    // defineProperty: a field named __proto__ is kept as data, not taken as the prototype.
    else
      Object.defineProperty(extra, key, {
        value: obj[key],
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return {
    event_id: obj['event_id'] as string,
    type,
    time,
    tenant,
    source: (obj['source'] as string | undefined) ?? '',
    subject: (obj['subject'] as string | undefined) ?? '',
    ip,
    fields,
    extra,
    ...(ctx.reporter !== undefined ? { reporter: ctx.reporter } : {}),
  };
}

function invalidTime(value: unknown): ValidationResult {
  return fail(
    'invalid_time',
    `time must be an RFC 3339 date-time or epoch milliseconds; got ${shorten(value)}`,
    '/time',
  );
}

/** A value as shown in a message: JSON, at most 80 characters, never a split surrogate pair. */
function shorten(value: unknown): string {
  return cut(JSON.stringify(value) ?? String(value), 80, '…');
}

/** Turns TypeBox's message into one that names what is allowed (the literals of an enum-like union). */
function describeError(schema: TObject, field: string, message: string, value: unknown): string {
  const property = schema.properties[field.slice(1)] as { anyOf?: { const?: unknown }[] } | undefined;
  const allowed = property?.anyOf?.map((s) => s.const).filter((c) => c !== undefined);
  if (allowed !== undefined && allowed.length > 0) {
    return `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}; got ${shorten(value)}`;
  }
  return `${message}; got ${shorten(value)}`;
}

/** The contract form of a normalized event (what the HTTP door publishes to Kafka). */
export function toContractEvent(event: NormalizedEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ...event.extra,
    event_id: event.event_id,
    type: event.type,
    time: event.time,
    tenant: event.tenant,
    ...event.fields,
  };
  if (event.source !== '') out['source'] = event.source;
  if (event.subject !== '') out['subject'] = event.subject;
  if (event.ip !== '') out['ip'] = event.ip;
  return out;
}
