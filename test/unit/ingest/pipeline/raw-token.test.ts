import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  containsRawToken,
  findRawToken,
  REDACTED,
  redactRawTokens,
} from '../../../../ingest/pipeline/raw-token.ts';
import { JWT } from '../../helpers.ts';

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWE (RFC 7516 A.1 style): five segments, the header base64url JSON. */
const JWE = [
  b64url({ alg: 'RSA-OAEP', enc: 'A256GCM' }),
  'OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGe',
  '48V1_ALb6US04U3b',
  '5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6ji',
  'XFBoMYUZodetZdvTiFvSkQ',
].join('.');

/** An unsecured JWT (alg none): the signature segment is empty and the token ends with a dot. */
const ALG_NONE = `${b64url({ alg: 'none' })}.${b64url({ sub: '1234567890' })}.`;

describe('containsRawToken', () => {
  it.each([
    ['a JWS', JWT],
    ['a JWE (5 segments)', JWE],
    ['an alg none token with an empty signature', ALG_NONE],
    ['a token inside text', `Authorization: Bearer ${JWT} (from header)`],
    ['a token in JSON text', JSON.stringify({ t: JWT })],
    ['a token glued to preceding text', `token${JWT}`],
    ['a token after a base64url run', `monkey${JWT}`],
  ])('finds %s', (_name, text) => {
    expect(containsRawToken(text)).toBe(true);
  });

  it.each([
    ['an ordinary id', 'user-1234567890'],
    ['a UUID', '550e8400-e29b-41d4-a716-446655440000'],
    ['a dotted id', 'fam_0123456789.tok_0123456789'],
    ['base64 of non-JSON', Buffer.from('hello world, this is not JSON at all').toString('base64')],
    [
      'base64url of non-JSON, dotted',
      `${Buffer.from('not json header').toString('base64url')}.abcdefghijklmnop`,
    ],
    ['a short ey.ab.cd', 'ey.ab.cd'],
    ['a short eyJhbGciOi.abc', 'eyJhbGciOi.abc'],
    ['a lone JOSE header', b64url({ alg: 'HS256' })],
    ['an empty string', ''],
    ['an ISO time', '2026-03-01T12:00:00.123Z'],
  ])('does not flag %s', (_name, text) => {
    expect(containsRawToken(text)).toBe(false);
  });

  // Regression (fixed): the pattern is not anchored at the start of a base64url run, so any "ey" inside a word that
  // is followed by 10+ base64url characters, a dot and 10+ more looks like a JWT. Real issuer URLs
  // and host names are then refused as raw_token (and redacted in dead letters).
  it.each([
    ['a Keycloak issuer URL', 'https://keycloak-production.identity-platform.example/realms/acme'],
    ['a service host name', 'journey-planner-service.prod-eu-west-1.internal'],
  ])('does not flag %s', (_name, text) => {
    expect(containsRawToken(text)).toBe(false);
  });
});

describe('redactRawTokens', () => {
  it('replaces every token, leaving the rest as is', () => {
    expect(redactRawTokens(`a ${JWT} b "${JWE}" c ${ALG_NONE} d`)).toBe(
      `a ${REDACTED} b "${REDACTED}" c ${REDACTED} d`,
    );
    expect(REDACTED).toBe('[REDACTED_TOKEN]');
  });

  it('leaves text without tokens unchanged', () => {
    const text = '{"event_id":"550e8400-e29b-41d4-a716-446655440000","subject":"user-1"}';
    expect(redactRawTokens(text)).toBe(text);
  });

  it('redacts the whole JWE, all five segments', () => {
    expect(redactRawTokens(`[${JWE}]`)).toBe(`[${REDACTED}]`);
  });
});

describe('findRawToken', () => {
  it('returns "/" for a token as the whole value', () => {
    expect(findRawToken(JWT)).toBe('/');
  });

  it('returns undefined when there is none', () => {
    expect(findRawToken({ a: [1, 'b', { c: null, d: true }], e: 'user-1' })).toBeUndefined();
    expect(findRawToken(null)).toBeUndefined();
    expect(findRawToken(42)).toBeUndefined();
  });

  it('points into arrays by index', () => {
    expect(findRawToken(['a', 'b', JWT])).toBe('/2');
    expect(findRawToken({ list: [{}, { t: [0, JWE] }] })).toBe('/list/1/t/1');
  });

  it('escapes ~ as ~0 and / as ~1 in the pointer', () => {
    expect(findRawToken({ 'a/b': { 'c~d': { '~/': ALG_NONE } } })).toBe('/a~1b/c~0d/~0~1');
  });

  it('points at a key that is itself a token', () => {
    expect(findRawToken({ ok: 'x', nested: { [JWT]: 1 } })).toBe(`/nested/${JWT}`);
  });

  it('returns the first hit in document order', () => {
    expect(findRawToken({ first: 'x', second: JWT, third: JWT })).toBe('/second');
  });

  it('appends to a given base pointer', () => {
    expect(findRawToken({ t: JWT }, '/events/3')).toBe('/events/3/t');
  });
});

describe('hostile text (the scan is linear and bounded; a decoy flood fails closed)', () => {
  const noise = fc.string({
    unit: fc.constantFrom(...'eyJ.AIab_-0 "{}:\\'.split('')),
    maxLength: 300,
  });

  it('finds a token wherever it sits among look-alike noise, and redaction removes every token', () => {
    fc.assert(
      fc.property(noise, noise, fc.constantFrom(JWT, JWE, ALG_NONE), (before, after, token) => {
        const text = `${before} ${token} ${after}`;
        expect(containsRawToken(text)).toBe(true);
        const redacted = redactRawTokens(text);
        expect(redacted).toContain(REDACTED);
        expect(redacted).not.toContain(token.split('.')[1]!);
        expect(containsRawToken(redacted)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('redaction is idempotent and never leaves a token in noise', () => {
    fc.assert(
      fc.property(noise, (text) => {
        const once = redactRawTokens(text);
        expect(redactRawTokens(once)).toBe(once);
        expect(containsRawToken(once)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('answers the quadratic-era attacks right: 200 KB of "eyey…", with and without dots', () => {
    expect(containsRawToken('ey'.repeat(100_000))).toBe(false);
    expect(containsRawToken(`${'ey'.repeat(100_000)}.${'a'.repeat(20)}`)).toBe(false);
    expect(containsRawToken(`${'eyJ'.repeat(60_000)}.${'a'.repeat(20)}.x`)).toBe(true); // decoys: fail closed
    expect(containsRawToken(`${'x'.repeat(200_000)}${JWT}`)).toBe(true);
  });

  it('counts candidates past the decode budget as tokens (a decoy flood hides nothing)', () => {
    const decoy = `${b64url({ nope: 1 })}.${'b'.repeat(12)}`;
    expect(containsRawToken(decoy)).toBe(false);
    const flood = Array.from({ length: 64 }, () => decoy).join(' ');
    expect(containsRawToken(flood)).toBe(false);
    expect(containsRawToken(`${flood} ${decoy}`)).toBe(true);
    expect(redactRawTokens(`${flood} ${JWT}`)).not.toContain(JWT.split('.')[1]!);
  });

  it('walks any depth without recursion', () => {
    let deep: unknown = JWT;
    for (let i = 0; i < 50_000; i++) deep = { a: deep };
    expect(findRawToken(deep)).toBe(`${'/a'.repeat(50_000)}`);
  });
});
