/** The denylist: notices from outside are checked, kept until they expire, applied idempotently. */
import { describe, expect, it } from 'vitest';
import { Denylist, parseNotice } from '../../../sdk/src/index.ts';

const NOW = 1_800_000_000_000;
const notice = (o: Record<string, unknown> = {}) => ({
  version: 1,
  revocation_id: 'rev-1',
  tenant: 'acme',
  subject: 'alice',
  target: 'jti',
  id: 'jti-1',
  expires_at_ms: NOW + 60_000,
  revoked_at_ms: NOW,
  ...o,
});
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('Denylist', () => {
  it('denies a jti, session or family until the notice expires, then forgets it', () => {
    const d = new Denylist({ logger: quiet });
    d.apply(notice(), NOW);
    d.apply(notice({ target: 'session', id: 's-1', revocation_id: 'rev-2' }), NOW);
    d.apply(notice({ target: 'family', id: 'f-1', revocation_id: 'rev-3' }), NOW);
    expect(d.match({ tenant: 'acme', jti: 'jti-1' }, NOW)).toStrictEqual({
      target: 'jti',
      id: 'jti-1',
      revocation_id: 'rev-1',
    });
    expect(d.match({ tenant: 'acme', jti: 'other', sessionId: 's-1' }, NOW)?.target).toBe('session');
    expect(d.match({ tenant: 'acme', familyId: 'f-1' }, NOW)?.target).toBe('family');
    expect(d.match({ tenant: 'globex', jti: 'jti-1' }, NOW)).toBeUndefined();
    expect(d.match({ tenant: 'acme', jti: 'jti-1' }, NOW + 60_000)).toBeUndefined();
    d.sweep(NOW + 60_000);
    expect(d.size).toBe(0);
    expect(d.stats()).toMatchObject({ applied: 3, hits: 3 });
    d.close();
  });

  it('a subject revocation covers the tokens issued up to it, not those issued after', () => {
    const d = new Denylist({ logger: quiet });
    d.apply(notice({ target: 'subject', id: 'alice' }), NOW);
    expect(d.match({ tenant: 'acme', subject: 'alice', iat: NOW / 1000 - 1 }, NOW)?.target).toBe('subject');
    expect(d.match({ tenant: 'acme', subject: 'alice' }, NOW)?.target).toBe('subject');
    expect(d.match({ tenant: 'acme', subject: 'alice', iat: NOW / 1000 + 1 }, NOW)).toBeUndefined();
    d.close();
  });

  it('applies a repeated notice once and keeps the later expiry', () => {
    const d = new Denylist({ logger: quiet });
    d.apply(notice(), NOW);
    d.apply(notice({ expires_at_ms: NOW + 120_000 }), NOW);
    d.apply(notice(), NOW);
    expect(d.size).toBe(1);
    expect(d.match({ tenant: 'acme', jti: 'jti-1' }, NOW + 90_000)).toBeDefined();
    d.close();
  });

  it('skips and counts what is not a valid notice (hostile input), and notices already expired', () => {
    const warnings: string[] = [];
    const d = new Denylist({ logger: { ...quiet, warn: (_f, m) => warnings.push(m) } });
    const bad: unknown[] = [
      null,
      'jti-1',
      [],
      notice({ version: 2 }),
      notice({ target: 'everything' }),
      notice({ id: '' }),
      notice({ id: 'x'.repeat(10_000) }),
      notice({ tenant: 42 }),
      notice({ expires_at_ms: 'tomorrow' }),
      notice({ revoked_at_ms: Number.NaN }),
    ];
    for (const value of bad) expect(d.apply(value, NOW)).toBe(false);
    expect(d.apply(notice({ expires_at_ms: NOW - 1 }), NOW)).toBe(false);
    expect(d.stats()).toMatchObject({ entries: 0, invalid: bad.length, expired: 1 });
    expect(warnings).toHaveLength(1); // rate-limited
    expect(parseNotice(notice({ target: 'everything' }))).toMatch(/unknown target "everything"/);
    d.close();
  });

  it('holds at most maxEntries, pushing out the oldest', () => {
    const d = new Denylist({ maxEntries: 2, logger: quiet });
    for (const id of ['a', 'b', 'c']) d.apply(notice({ id }), NOW);
    expect(d.size).toBe(2);
    expect(d.match({ tenant: 'acme', jti: 'a' }, NOW)).toBeUndefined();
    expect(d.match({ tenant: 'acme', jti: 'c' }, NOW)).toBeDefined();
    expect(d.stats().evicted).toBe(1);
    d.close();
  });
});
