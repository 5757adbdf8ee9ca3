import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REFRESH_REASONS, VERIFICATION_REASONS } from '../../../../contract/event-v1.ts';
import { containsRawToken } from '../../../../ingest/pipeline/raw-token.ts';
import {
  type NormalizedEvent,
  parseEventTime,
  toContractEvent,
  type ValidationContext,
  type ValidationOptions,
  validateEventText,
  validateEventValue,
} from '../../../../ingest/pipeline/validate.ts';
import { expectError, expectOk, JWT } from '../../helpers.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const OPTS: ValidationOptions = {
  eventBytes: 16_384,
  maxEventAgeSeconds: 7 * 24 * 3600,
  maxFutureSkewSeconds: 300,
};
const CTX: ValidationContext = { nowMs: NOW };

const VERIFICATION = {
  event_id: 'v-1',
  type: 'verification',
  time: '2026-03-01T11:59:30Z',
  outcome: 'accepted',
  reason: 'ok',
};
const REFRESH = {
  event_id: 'r-1',
  type: 'refresh',
  time: NOW - 1000,
  outcome: 'rotated',
  reason: 'ok',
  family_id: 'fam-1',
  token_id: 'rt-1',
};

const check = (event: unknown, ctx: ValidationContext = CTX, opts: ValidationOptions = OPTS) =>
  validateEventText(JSON.stringify(event), opts, ctx);

describe('parseEventTime', () => {
  it.each([
    ['2026-03-01T12:00:00Z', NOW],
    ['2026-03-01T12:00:00z', NOW],
    ['2026-03-01t12:00:00Z', NOW],
    ['2026-03-01 12:00:00Z', NOW],
    ['2026-03-01T14:00:00+02:00', NOW],
    ['2026-03-01T10:30:00-01:30', NOW],
    ['2026-03-01T12:00:00.5Z', NOW + 500],
    ['2026-03-01T12:00:00.123Z', NOW + 123],
    ['2026-03-01T12:00:00.123456789+00:00', NOW + 123],
    [NOW, NOW],
    [0, 0],
  ])('%j → %d', (input, expected) => {
    expect(parseEventTime(input)).toBe(expected);
  });

  it.each([
    '2026-13-45T00:00:00Z',
    '2026-03-01T12:60:00Z',
    'yesterday',
    '2026-03-01',
    '2026-03-01T12:00:00',
    '2026-03-01T12:00Z',
    String(NOW),
    '',
    -1,
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.MAX_SAFE_INTEGER + 2,
    null,
    undefined,
    true,
    {},
  ])('%j → undefined', (input) => {
    expect(parseEventTime(input)).toBeUndefined();
  });

  // Regression (fixed): Date.parse rolls impossible calendar dates over (Feb 30 → Mar 2, 24:00 → next day), so the
  // event is stored with a time the producer never sent instead of being rejected.
  it.each(['2026-02-30T00:00:00Z', '2026-04-31T00:00:00Z', '2026-03-01T24:00:00Z'])(
    'rejects the impossible date-time %s instead of rolling it over',
    (input) => {
      expect(parseEventTime(input)).toBeUndefined();
    },
  );
});

describe('validateEventText: valid events', () => {
  it('normalizes a verification event (default tenant, IPv6, known fields, extra)', () => {
    const event = expectOk(
      check({
        ...VERIFICATION,
        outcome: 'rejected',
        reason: 'expired',
        source: 'api-gw/eu-1',
        subject: 'user-42',
        ip: '2001:DB8:0:0::0001',
        client_id: 'web',
        aud: ['api', 'admin'],
        jti: 'jti-1',
        iat: 1772362800,
        exp: 1772366400,
        kid: 'k1',
        alg: 'RS256',
        device: { model: 'pixel' },
        trace_id: 'abc',
      }),
    );
    expect(event).toStrictEqual({
      event_id: 'v-1',
      type: 'verification',
      time: NOW - 30_000,
      tenant: 'default',
      source: 'api-gw/eu-1',
      subject: 'user-42',
      ip: '2001:db8::1',
      fields: {
        outcome: 'rejected',
        reason: 'expired',
        client_id: 'web',
        aud: ['api', 'admin'],
        jti: 'jti-1',
        iat: 1772362800,
        exp: 1772366400,
        kid: 'k1',
        alg: 'RS256',
      },
      extra: { device: { model: 'pixel' }, trace_id: 'abc' },
    });
  });

  it('normalizes a refresh event with epoch-ms time, explicit tenant and IPv4-mapped ip', () => {
    const event = expectOk(
      check({ ...REFRESH, tenant: 'acme', ip: '::ffff:10.1.2.3', new_token_id: 'rt-2', access_jti: 'a-1' }),
    );
    expect(event).toStrictEqual({
      event_id: 'r-1',
      type: 'refresh',
      time: NOW - 1000,
      tenant: 'acme',
      source: '',
      subject: '',
      ip: '10.1.2.3',
      fields: {
        outcome: 'rotated',
        reason: 'ok',
        family_id: 'fam-1',
        token_id: 'rt-1',
        new_token_id: 'rt-2',
        access_jti: 'a-1',
      },
      extra: {},
    });
  });

  it('normalizes an issuance event with an offset time and free-form outcome', () => {
    const event = expectOk(
      check({
        event_id: 'i-1',
        type: 'issuance',
        time: '2026-03-01T13:00:00+02:00',
        subject: 'user-7',
        ip: ' 203.0.113.7 ',
        outcome: 'ok',
        aud: 'api',
        family_id: 'fam-9',
        token_id: 'rt-9',
      }),
    );
    expect(event).toStrictEqual({
      event_id: 'i-1',
      type: 'issuance',
      time: NOW - 3_600_000,
      tenant: 'default',
      source: '',
      subject: 'user-7',
      ip: '203.0.113.7',
      fields: { outcome: 'ok', aud: 'api', family_id: 'fam-9', token_id: 'rt-9' },
      extra: {},
    });
  });

  it('normalizes a minimal revocation event with a fractional-second time', () => {
    const event = expectOk(
      check({ event_id: 'x-1', type: 'revocation', time: '2026-03-01T11:00:00.123456Z', ip: '' }),
    );
    expect(event).toStrictEqual({
      event_id: 'x-1',
      type: 'revocation',
      time: NOW - 3_600_000 + 123,
      tenant: 'default',
      source: '',
      subject: '',
      ip: '',
      fields: {},
      extra: {},
    });
  });

  it('takes the tenant from the context when the event names none', () => {
    expect(expectOk(check(VERIFICATION, { nowMs: NOW, tenant: 'acme' })).tenant).toBe('acme');
  });

  it('accepts an event naming the same tenant as the context', () => {
    expect(expectOk(check({ ...VERIFICATION, tenant: 'acme' }, { nowMs: NOW, tenant: 'acme' })).tenant).toBe(
      'acme',
    );
  });

  it.each([
    ['verification', 'rejected', 'bad_signature'],
    ['refresh', 'rejected', 'reuse_detected'],
    ['refresh', 'rejected', 'expired'],
  ])('accepts a consistent %s outcome %s with reason %s', (type, outcome, reason) => {
    const base = type === 'refresh' ? REFRESH : VERIFICATION;
    expect(expectOk(check({ ...base, outcome, reason })).fields).toMatchObject({ outcome, reason });
  });

  it('accepts the edges of the time window and rejects one millisecond beyond', () => {
    const opts = { ...OPTS, maxEventAgeSeconds: 60, maxFutureSkewSeconds: 0 };
    expect(expectOk(check({ ...VERIFICATION, time: NOW }, CTX, opts)).time).toBe(NOW);
    expect(expectOk(check({ ...VERIFICATION, time: NOW - 60_000 }, CTX, opts)).time).toBe(NOW - 60_000);
    expect(expectError(check({ ...VERIFICATION, time: NOW + 1 }, CTX, opts)).code).toBe('time_out_of_range');
    expect(expectError(check({ ...VERIFICATION, time: NOW - 60_001 }, CTX, opts)).code).toBe(
      'time_out_of_range',
    );
  });

  it('accepts an event exactly eventBytes long', () => {
    const text = JSON.stringify({ ...VERIFICATION, pad: '' });
    const padded = JSON.stringify({ ...VERIFICATION, pad: 'x'.repeat(300 - text.length) });
    expect(Buffer.byteLength(padded)).toBe(300);
    expect(expectOk(validateEventText(padded, { ...OPTS, eventBytes: 300 }, CTX)).extra).toStrictEqual({
      pad: 'x'.repeat(300 - text.length),
    });
  });
});

describe('validateEventText: rejects', () => {
  it('malformed_json', () => {
    const error = expectError(validateEventText('{"type": "verification",', OPTS, CTX));
    expect(error.code).toBe('malformed_json');
    expect(error.message).toMatch(/^not valid JSON: /);
    expect(error.field).toBeUndefined();
  });

  it.each([
    ['[]', 'an array'],
    ['[{"type":"verification"}]', 'an array'],
    ['null', 'null'],
    ['42', 'number'],
    ['"verification"', 'string'],
    ['true', 'boolean'],
  ])('not_an_object: %s', (text, what) => {
    expect(expectError(validateEventText(text, OPTS, CTX))).toStrictEqual({
      code: 'not_an_object',
      message: `an event must be a JSON object, got ${what}`,
    });
  });

  it('oversized (counts UTF-8 bytes, not characters)', () => {
    const text = JSON.stringify({ ...VERIFICATION, note: 'é'.repeat(100) });
    expect(text.length).toBeLessThan(256);
    expect(Buffer.byteLength(text)).toBeGreaterThan(256);
    expect(expectError(validateEventText(text, { ...OPTS, eventBytes: 256 }, CTX))).toStrictEqual({
      code: 'oversized',
      message: 'event is larger than 256 bytes (TOKENWATCH_EVENT_MAX_BYTES)',
    });
  });

  it('oversized is checked before parsing', () => {
    expect(
      expectError(validateEventText(`{${'x'.repeat(300)}`, { ...OPTS, eventBytes: 256 }, CTX)).code,
    ).toBe('oversized');
  });

  it.each([
    [{ ...VERIFICATION, type: 'login' }, '"login"'],
    [{ ...VERIFICATION, type: 5 }, '5'],
    [{ ...VERIFICATION, type: 'Verification' }, '"Verification"'],
    [{ event_id: 'x' }, 'nothing'],
  ])('unknown_type: %j', (event, got) => {
    expect(expectError(check(event))).toStrictEqual({
      code: 'unknown_type',
      message: `type must be one of verification, refresh, issuance, revocation; got ${got}`,
      field: '/type',
    });
  });

  it.each([
    ['refresh', 'token_id', REFRESH],
    ['refresh', 'family_id', REFRESH],
    ['refresh', 'outcome', REFRESH],
    ['verification', 'outcome', VERIFICATION],
    ['verification', 'reason', VERIFICATION],
    ['verification', 'event_id', VERIFICATION],
  ])('missing_field: %s without %s', (type, name, base) => {
    const event: Record<string, unknown> = { ...base };
    delete event[name];
    expect(expectError(check(event))).toStrictEqual({
      code: 'missing_field',
      message: `/${name} is required for ${type} events`,
      field: `/${name}`,
    });
  });

  it.each([
    [{ event_id: 5 }, '/event_id', '/event_id: Expected string; got 5'],
    [{ event_id: '' }, '/event_id', '/event_id: Expected string length greater or equal to 1; got ""'],
    [{ iat: 1.5 }, '/iat', '/iat: Expected integer; got 1.5'],
    [{ exp: -1 }, '/exp', '/exp: Expected integer to be greater or equal to 0; got -1'],
    [{ subject: 42 }, '/subject', '/subject: Expected string; got 42'],
    [{ aud: [1] }, '/aud', '/aud: Expected union value; got [1]'],
    [{ tenant: 'a b' }, '/tenant', '/tenant: Expected string to match \'^[A-Za-z0-9._-]+$\'; got "a b"'],
  ])('invalid_field: %j', (patch, field, message) => {
    expect(expectError(check({ ...VERIFICATION, ...patch }))).toStrictEqual({
      code: 'invalid_field',
      message,
      field,
    });
  });

  it('invalid_field shortens a long offending value to 80 characters', () => {
    const error = expectError(check({ ...VERIFICATION, subject: 'x'.repeat(300) }));
    expect(error).toStrictEqual({
      code: 'invalid_field',
      message: `/subject: Expected string length less or equal to 256; got "${'x'.repeat(79)}…`,
      field: '/subject',
    });
  });

  it('invalid_field on an enum lists the allowed values (verification outcome)', () => {
    expect(expectError(check({ ...VERIFICATION, outcome: 'maybe' }))).toStrictEqual({
      code: 'invalid_field',
      message: '/outcome: must be one of "accepted", "rejected"; got "maybe"',
      field: '/outcome',
    });
  });

  it('invalid_field on an enum lists the allowed values (verification and refresh reason)', () => {
    const list = (values: readonly string[]) => values.map((v) => `"${v}"`).join(', ');
    expect(expectError(check({ ...VERIFICATION, reason: 'nope' })).message).toBe(
      `/reason: must be one of ${list(VERIFICATION_REASONS)}; got "nope"`,
    );
    expect(expectError(check({ ...REFRESH, reason: 'bad_signature' })).message).toBe(
      `/reason: must be one of ${list(REFRESH_REASONS)}; got "bad_signature"`,
    );
    expect(expectError(check({ ...REFRESH, outcome: 'accepted' })).message).toBe(
      '/outcome: must be one of "rotated", "rejected"; got "accepted"',
    );
  });

  it.each([
    ['2026-13-45T00:00:00Z', '"2026-13-45T00:00:00Z"'],
    ['yesterday', '"yesterday"'],
    ['2026-03-01T12:00:00', '"2026-03-01T12:00:00"'],
    [-1, '-1'],
    [1.5, '1.5'],
    [null, 'null'],
    [true, 'true'],
  ])('invalid_time: %j', (time, got) => {
    expect(expectError(check({ ...VERIFICATION, time }))).toStrictEqual({
      code: 'invalid_time',
      message: `time must be an RFC 3339 date-time or epoch milliseconds; got ${got}`,
      field: '/time',
    });
  });

  it('time_out_of_range: too old, with the default window', () => {
    expect(expectError(check({ ...VERIFICATION, time: NOW - 7 * 24 * 3600 * 1000 - 1 }))).toStrictEqual({
      code: 'time_out_of_range',
      message:
        'time 2026-02-22T11:59:59.999Z is outside the accepted window (604800s in the past, 300s in the future; ' +
        'TOKENWATCH_MAX_EVENT_AGE_SECONDS / TOKENWATCH_MAX_FUTURE_SKEW_SECONDS)',
      field: '/time',
    });
  });

  it('time_out_of_range: too far in the future, with custom options', () => {
    const opts = { ...OPTS, maxEventAgeSeconds: 3600, maxFutureSkewSeconds: 10 };
    expect(expectError(check({ ...VERIFICATION, time: '2026-03-01T12:00:11Z' }, CTX, opts))).toStrictEqual({
      code: 'time_out_of_range',
      message:
        'time 2026-03-01T12:00:11.000Z is outside the accepted window (3600s in the past, 10s in the future; ' +
        'TOKENWATCH_MAX_EVENT_AGE_SECONDS / TOKENWATCH_MAX_FUTURE_SKEW_SECONDS)',
      field: '/time',
    });
    expect(expectOk(check({ ...VERIFICATION, time: '2026-03-01T12:00:10Z' }, CTX, opts)).time).toBe(
      NOW + 10_000,
    );
  });

  // Regression (fixed): an epoch-ms time beyond what Date can hold (> 8.64e15) passes the schema and parseEventTime,
  // then `new Date(time).toISOString()` in the time_out_of_range message throws a RangeError.
  it('a huge epoch-ms time is rejected, not thrown', () => {
    for (const time of [Number.MAX_SAFE_INTEGER, 8.64e15 + 1]) {
      let result: ReturnType<typeof check> | undefined;
      expect(() => {
        result = check({ ...VERIFICATION, time });
      }).not.toThrow();
      expect(['invalid_time', 'time_out_of_range']).toContain(expectError(result!).code);
    }
  });

  it.each(['999.1.1.1', '1.2.3', 'abc', '1.2.3.4:80', 'fe80::1::2'])('invalid_ip: %s', (ip) => {
    expect(expectError(check({ ...VERIFICATION, ip }))).toStrictEqual({
      code: 'invalid_ip',
      message: `ip ${JSON.stringify(ip)} is not an IPv4 or IPv6 address`,
      field: '/ip',
    });
  });

  it('tenant_mismatch', () => {
    expect(
      expectError(check({ ...VERIFICATION, tenant: 'other' }, { nowMs: NOW, tenant: 'acme' })),
    ).toStrictEqual({
      code: 'tenant_mismatch',
      message:
        'event names tenant "other" but the API key belongs to "acme": a key or producer topic reports for its own tenant only',
      field: '/tenant',
    });
  });

  it('outside_role: a verifier key reports verifications only; an auth-server key and a key without a role every type', () => {
    const as = (role: 'verifier' | 'auth-server' | '') => ({
      nowMs: NOW,
      tenant: 'acme',
      reporter: { id: 'acme:k', role, door: 'http' as const },
    });
    const refresh = { ...REFRESH, tenant: 'acme' };
    expect(expectError(check(refresh, as('verifier')))).toStrictEqual({
      code: 'outside_role',
      message:
        "a verifier key or producer topic may report verification events only, not refresh: send issuance, refresh and revocation facts with the auth server's key or topic (role auth-server)",
      field: '/type',
    });
    expect(expectOk(check({ ...VERIFICATION, tenant: 'acme' }, as('verifier'))).reporter).toStrictEqual({
      id: 'acme:k',
      role: 'verifier',
      door: 'http',
    });
    expect(expectOk(check(refresh, as('auth-server'))).type).toBe('refresh');
    expect(expectOk(check(refresh, as(''))).type).toBe('refresh');
  });

  it.each([
    [VERIFICATION, 'accepted', 'expired', 'verification', 'accepted ⇔ ok'],
    [VERIFICATION, 'rejected', 'ok', 'verification', 'accepted ⇔ ok'],
    [REFRESH, 'rotated', 'reuse_detected', 'refresh', 'rotated ⇔ ok'],
    [REFRESH, 'rejected', 'ok', 'refresh', 'rotated ⇔ ok'],
  ])('inconsistent_outcome: %#', (base, outcome, reason, type, rule) => {
    expect(expectError(check({ ...base, outcome, reason }))).toStrictEqual({
      code: 'inconsistent_outcome',
      message: `${type} outcome "${outcome}" does not go with reason "${reason}" (${rule})`,
      field: '/reason',
    });
  });
});

describe('raw tokens', () => {
  const rawToken = (field: string) => ({
    code: 'raw_token',
    message: 'a field looks like a raw JWT; events must carry token ids and claims, never the token itself',
    field,
  });

  it('in a known field', () => {
    expect(expectError(check({ ...VERIFICATION, jti: JWT }))).toStrictEqual(rawToken('/jti'));
  });

  it('in an unknown nested field, inside an array', () => {
    expect(expectError(check({ ...VERIFICATION, meta: { headers: ['x', `Bearer ${JWT}`] } }))).toStrictEqual(
      rawToken('/meta/headers/1'),
    );
  });

  it('in a key (escaped per RFC 6901; the key, a token itself, redacted in the pointer)', () => {
    expect(expectError(check({ ...VERIFICATION, 'a/b~c': { [JWT]: true } }))).toStrictEqual(
      rawToken('/a~1b~0c/[REDACTED_TOKEN]'),
    );
  });

  it('hidden with \\u escapes in the JSON text', () => {
    const text = JSON.stringify({ ...VERIFICATION, note: JWT })
      .replaceAll('.', '\\u002e')
      .replace('ey', '\\u0065y');
    expect(containsRawToken(text)).toBe(false);
    expect(expectError(validateEventText(text, OPTS, CTX))).toStrictEqual(rawToken('/note'));
  });

  it('is detected before any other check (even in an event of unknown type)', () => {
    expect(expectError(check({ type: 'nope', subject: JWT }))).toStrictEqual(rawToken('/subject'));
  });

  it('validateEventValue scans values by default and can skip the scan', () => {
    const event = { ...VERIFICATION, note: JWT };
    expect(expectError(validateEventValue(event, OPTS, CTX))).toStrictEqual(rawToken('/note'));
    expect(expectOk(validateEventValue(event, OPTS, CTX, false)).extra).toStrictEqual({ note: JWT });
  });

  // Regression (fixed): the text is matched before unescaping, so a \u escape whose last hex digit is "e" followed by
  // "y…" (e.g. "þ" = \u00fe, as Python's json.dumps writes it) looks like "ey…" — the event is refused
  // as raw_token although no value contains a token (and the error has no field).
  it('an escape artifact in the text is not a raw token', () => {
    const text = JSON.stringify({ ...VERIFICATION, note: 'þyrnirosanoble.skaldskaparmal' }).replace(
      'þ',
      '\\u00fe',
    );
    expect(text).toContain('\\u00feyrnirosanoble.skaldskaparmal');
    expect(expectOk(validateEventText(text, OPTS, CTX)).extra).toStrictEqual({
      note: 'þyrnirosanoble.skaldskaparmal',
    });
  });
});

describe('JSON array elements (split from the body, validated as text)', () => {
  it('validates an element like an NDJSON line, its size from its own text', () => {
    const text = JSON.stringify(VERIFICATION);
    expect(expectOk(validateEventText(text, OPTS, CTX))).toStrictEqual(
      expectOk(validateEventText(` ${text} `.trim(), OPTS, CTX)),
    );
    expect(expectError(validateEventText('x'.repeat(300), { ...OPTS, eventBytes: 256 }, CTX))).toStrictEqual({
      code: 'oversized',
      message: 'event is larger than 256 bytes (TOKENWATCH_EVENT_MAX_BYTES)',
    });
  });

  it('scans the element for raw tokens', () => {
    const event = { ...VERIFICATION, deep: [{ t: JWT }] };
    expect(expectError(validateEventText(JSON.stringify(event), OPTS, CTX)).field).toBe('/deep/0/t');
  });

  it('rejects a non-object element', () => {
    expect(expectError(validateEventText('[1]', OPTS, CTX)).code).toBe('not_an_object');
  });
});

describe('toContractEvent', () => {
  const events: [string, unknown, ValidationContext][] = [
    [
      'verification with everything',
      {
        ...VERIFICATION,
        source: 's',
        subject: 'u',
        ip: '2001:0DB8::0001',
        aud: 'api',
        iat: 1,
        custom: { a: [1, 'b'] },
      },
      CTX,
    ],
    [
      'refresh with tenant from the context',
      { ...REFRESH, ip: '::ffff:0102:0304' },
      { nowMs: NOW, tenant: 'acme' },
    ],
    ['issuance', { event_id: 'i', type: 'issuance', time: '2026-03-01T13:00:00+01:00', outcome: 'ok' }, CTX],
    ['minimal revocation', { event_id: 'x', type: 'revocation', time: NOW }, CTX],
  ];

  it.each(events)('round-trips a %s event', (_name, input, ctx) => {
    const event = expectOk(check(input, ctx));
    const again = expectOk(check(toContractEvent(event), ctx));
    expect(again).toStrictEqual(event);
  });

  it('writes time as epoch ms, the tenant always, and leaves empty source/subject/ip out', () => {
    const event: NormalizedEvent = {
      event_id: 'e',
      type: 'revocation',
      time: 123,
      tenant: 'default',
      source: '',
      subject: '',
      ip: '',
      fields: { reason: 'logout' },
      extra: { k: 1 },
    };
    expect(toContractEvent(event)).toStrictEqual({
      k: 1,
      event_id: 'e',
      type: 'revocation',
      time: 123,
      tenant: 'default',
      reason: 'logout',
    });
    expect(toContractEvent({ ...event, source: 'svc', subject: 'u', ip: '::1' })).toStrictEqual({
      k: 1,
      event_id: 'e',
      type: 'revocation',
      time: 123,
      tenant: 'default',
      reason: 'logout',
      source: 'svc',
      subject: 'u',
      ip: '::1',
    });
  });

  // Regression (fixed): an unknown top-level key "__proto__" (an own property after JSON.parse) is assigned
  // with `extra[key] = …`, which sets the prototype of `extra` instead of storing the field, so it
  // is silently dropped from `extra` (and from the stored row and the republished event).
  it('keeps an unknown "__proto__" key in extra', () => {
    const text = '{"event_id":"e","type":"revocation","time":1772366400000,"__proto__":{"admin":true},"y":2}';
    const event = expectOk(validateEventText(text, OPTS, CTX));
    expect(Object.keys(event.extra)).toStrictEqual(['__proto__', 'y']);
    expect(JSON.stringify(event.extra)).toBe('{"__proto__":{"admin":true},"y":2}');
  });
});

describe('hostile events (each one only ever costs its own error)', () => {
  it('refuses nesting deeper than the limit, at the first field too deep, without recursion', () => {
    const nested = (depth: number) =>
      `{"event_id":"d","type":"verification","x":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    expect(expectError(validateEventText(nested(4000), OPTS, CTX))).toStrictEqual({
      code: 'invalid_field',
      message: `/x${'/0'.repeat(31)}: nested deeper than 32 levels of objects and arrays; send a flatter event`,
      field: `/x${'/0'.repeat(31)}`,
    });
    expect(expectError(validateEventText(nested(31), OPTS, CTX)).code).not.toBe('invalid_field');
    expect(expectError(validateEventText(nested(3), { ...OPTS, maxDepth: 3 }, CTX)).code).toBe(
      'invalid_field',
    );
  });

  it('makes every string well-formed: lone surrogates from escapes become U+FFFD', () => {
    const text = JSON.stringify({ ...VERIFICATION, subject: 'a\ud800b', note: { ['k\udfff']: ['\ud83d'] } });
    const event = expectOk(validateEventText(text, OPTS, CTX));
    expect(event.subject).toBe('a\ufffdb');
    expect(event.extra).toStrictEqual({ note: { 'k\ufffd': ['\ufffd'] } });
  });

  it('cuts messages built from input on a code-point boundary (an emoji line)', () => {
    const error = expectError(validateEventText('😀', OPTS, CTX));
    expect(error.code).toBe('malformed_json');
    expect(error.message.isWellFormed()).toBe(true);
    const long = expectError(validateEventText(`{"a":"${'😀'.repeat(200)}`, OPTS, CTX));
    expect(long.message.isWellFormed()).toBe(true);
    expect(long.message.length).toBeLessThan(300);
    const typed = expectError(check({ ...VERIFICATION, type: `${'😀'.repeat(100)}` }));
    expect(typed.message.isWellFormed()).toBe(true);
  });

  it('never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.jsonValue(), (text, value) => {
        for (const t of [
          text,
          JSON.stringify(value),
          JSON.stringify({ ...VERIFICATION, v: value, t: text }),
        ]) {
          const r = validateEventText(t, OPTS, CTX);
          if (!r.ok) expect(r.error.message.isWellFormed()).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('key binding fields', () => {
  const JKT = '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I';
  const bound = { bound_key_kind: 'dpop', bound_key_thumbprint: JKT, proof_key_thumbprint: JKT };

  it('keeps a bound key, its kind and the proof key as sent', () => {
    expect(expectOk(check({ ...VERIFICATION, ...bound })).fields).toMatchObject(bound);
  });

  it.each([
    ['bound_key_kind', 'spki'],
    ['bound_key_thumbprint', JKT.slice(1)],
    ['bound_key_thumbprint', `${JKT}=`],
    ['proof_key_thumbprint', `${JKT.slice(1)}+`],
    ['proof_key_thumbprint', 42],
  ])('%s %j is an invalid_field naming the field', (name, value) => {
    const error = expectError(check({ ...VERIFICATION, ...bound, [name]: value }));
    expect(error).toMatchObject({ code: 'invalid_field', field: `/${name}` });
    expect(error.message).toContain(`/${name}`);
  });

  it('anything but 43 base64url characters as a thumbprint is refused with the field named (never thrown)', () => {
    const thumbprint = /^[A-Za-z0-9_-]{43}$/;
    fc.assert(
      fc.property(
        fc.constantFrom('bound_key_thumbprint', 'proof_key_thumbprint'),
        fc.oneof(fc.string({ maxLength: 100 }), fc.anything()),
        (name, value) => {
          fc.pre(!(typeof value === 'string' && thumbprint.test(value)) && value !== undefined);
          const error = expectError(check({ ...VERIFICATION, [name]: value }));
          expect(error).toMatchObject({ code: 'invalid_field', field: `/${name}` });
        },
      ),
    );
  });
});

describe('device_id_source', () => {
  it.each(['claim', 'header', 'cookie', 'auth_server', ''])('keeps %j as sent', (source) => {
    expect(
      expectOk(check({ ...VERIFICATION, device_id: 'd1', device_id_source: source })).fields,
    ).toMatchObject({
      device_id_source: source,
    });
  });

  it('an unknown source is an invalid_field naming the field and the allowed values', () => {
    const error = expectError(check({ ...VERIFICATION, device_id: 'd1', device_id_source: 'bluetooth' }));
    expect(error).toMatchObject({ code: 'invalid_field', field: '/device_id_source' });
    expect(error.message).toContain('/device_id_source');
    expect(error.message).toContain('claim');
  });

  it('anything but a known source is refused with the field named (never thrown)', () => {
    const known = new Set(['claim', 'header', 'cookie', 'auth_server', '']);
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.anything()),
        fc.constantFrom(VERIFICATION, REFRESH),
        (value, base) => {
          fc.pre(!(typeof value === 'string' && known.has(value)) && value !== undefined);
          const error = expectError(check({ ...base, device_id_source: value }));
          expect(error).toMatchObject({ code: 'invalid_field', field: '/device_id_source' });
        },
      ),
    );
  });
});
