import { describe, expect, it } from 'vitest';
import { ApiKeys } from '../../../../platform/http/api-keys.ts';

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
