import { describe, expect, it } from 'vitest';
import { ApiKeys, parseApiKeyEntry } from '../../../../platform/http/api-keys.ts';

const ACME = 'acme-key-0123456789';
const BETA = 'beta-key-0123456789';
const keys = new ApiKeys([
  { tenant: 'acme', key: ACME },
  { tenant: 'beta', key: BETA },
]);

describe('ApiKeys', () => {
  it('counts its keys', () => {
    expect(keys.size).toBe(2);
    expect(new ApiKeys([]).size).toBe(0);
  });

  it.each([`Bearer ${ACME}`, `bearer ${ACME}`, `BEARER ${ACME}`, `bEaReR \t ${ACME}  `])(
    'authenticates Authorization: %j',
    (authorization) => {
      expect(keys.authenticate({ authorization })).toBe('acme');
    },
  );

  it('authenticates X-Api-Key (trimmed)', () => {
    expect(keys.authenticate({ 'x-api-key': BETA })).toBe('beta');
    expect(keys.authenticate({ 'x-api-key': `  ${BETA} ` })).toBe('beta');
  });

  it('prefers the Bearer token over X-Api-Key', () => {
    expect(keys.authenticate({ authorization: `Bearer ${ACME}`, 'x-api-key': BETA })).toBe('acme');
  });

  it('falls back to X-Api-Key when Authorization is another scheme', () => {
    expect(keys.authenticate({ authorization: 'Basic dXNlcjpwYXNz', 'x-api-key': BETA })).toBe('beta');
  });

  it.each([
    ['an unknown Bearer key', { authorization: 'Bearer unknown-key-0123456789' }],
    ['an unknown X-Api-Key', { 'x-api-key': 'unknown-key-0123456789' }],
    ['a key differing in case', { 'x-api-key': ACME.toUpperCase() }],
    ['a key prefix', { 'x-api-key': ACME.slice(0, -1) }],
    ['an empty X-Api-Key', { 'x-api-key': '' }],
    ['a blank X-Api-Key', { 'x-api-key': '   ' }],
    ['an empty Bearer', { authorization: 'Bearer ' }],
    ['Bearer without a space', { authorization: `Bearer${ACME}` }],
    ['the key under another scheme', { authorization: `Basic ${ACME}` }],
    ['the bare key as Authorization', { authorization: ACME }],
    ['no headers', {}],
  ])('refuses %s', (_name, headers) => {
    expect(keys.authenticate(headers)).toBeUndefined();
  });
});

describe('key roles', () => {
  const ENV = 'TOKENWATCH_API_KEYS';
  it.each([
    [
      'acme:verifier-key-0123456789:verifier',
      { tenant: 'acme', key: 'verifier-key-0123456789', role: 'verifier' },
    ],
    [
      'acme:auth-key-0123456789:auth-server',
      { tenant: 'acme', key: 'auth-key-0123456789', role: 'auth-server' },
    ],
    ['acme:plain-key-0123456789', { tenant: 'acme', key: 'plain-key-0123456789' }],
    // not a role: part of the key
    ['acme:a:b:c-0123456789abcdef:admin', { tenant: 'acme', key: 'a:b:c-0123456789abcdef:admin' }],
  ])('parses %j', (entry, key) => {
    expect(parseApiKeyEntry(entry, ENV, { roles: true })).toStrictEqual({ ok: true, key });
  });

  it('read keys take no role: the suffix stays part of the key', () => {
    expect(parseApiKeyEntry('acme:read-key-0123456789:verifier', ENV, { roles: false })).toStrictEqual({
      ok: true,
      key: { tenant: 'acme', key: 'read-key-0123456789:verifier' },
    });
  });

  it('a key too short once the role is taken off is refused, without showing it', () => {
    const r = parseApiKeyEntry('acme:short:verifier', ENV, { roles: true });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problem).toBe(
      'TOKENWATCH_API_KEYS entries must be tenant:key or tenant:key:role (role verifier or auth-server) with a key of at least 16 characters (got an entry for "acme")',
    );
    expect(!r.ok && r.problem).not.toContain('short');
  });

  it('identifies the role of the key presented, and counts keys without one', () => {
    const ring = new ApiKeys([
      { tenant: 'acme', key: 'verifier-key-0123456789', role: 'verifier' },
      { tenant: 'acme', key: 'auth-key-0123456789', role: 'auth-server' },
      { tenant: 'acme', key: 'plain-key-0123456789' },
    ]);
    expect(ring.identify({ 'x-api-key': 'verifier-key-0123456789' })?.role).toBe('verifier');
    expect(ring.identify({ 'x-api-key': 'auth-key-0123456789' })?.role).toBe('auth-server');
    expect(ring.identify({ 'x-api-key': 'plain-key-0123456789' })?.role).toBe('');
    expect(ring.identify({ 'x-api-key': 'plain-key-0123456789' })?.id).toMatch(/^acme:.{12}$/);
    expect(ring.withoutRole).toBe(1);
  });
});
