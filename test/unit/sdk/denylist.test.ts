/** The denylist: notices from outside are checked, kept until they expire, applied idempotently. */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Denylist, idHash, parseNotice } from '../../../sdk/src/index.ts';

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
      notice({ version: 3 }),
      notice({ version: 2 }), // v2 names ids by hash: `id` alone is not one
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

  it('when full, pushes out the entry expiring soonest (expired ones first), with an alarm', () => {
    const alarms: unknown[] = [];
    const errors: string[] = [];
    const d = new Denylist({
      maxEntries: 3,
      logger: { ...quiet, error: (_f, m) => errors.push(m) },
      onFull: (a) => alarms.push(a),
    });
    const HOUR = 3_600_000;
    d.apply(notice({ target: 'family', id: 'real-family', expires_at_ms: NOW + 30 * 24 * HOUR }), NOW);
    d.apply(notice({ id: 'short', expires_at_ms: NOW + 2 * 60_000 }), NOW);
    d.apply(notice({ id: 'mid', expires_at_ms: NOW + HOUR }), NOW);
    expect(d.stats()).toMatchObject({ entries: 3, full: true, evicted: 0 });
    // 'short' has expired by now: it makes room, no live entry is lost, no alarm
    d.apply(notice({ id: 'new-1', expires_at_ms: NOW + HOUR }), NOW + 3 * 60_000);
    expect(d.stats().evicted).toBe(0);
    expect(alarms).toEqual([]);
    // a flood of new notices: the soonest-expiring live ones go, the month-long family stays
    for (const id of ['f1', 'f2', 'f3', 'f4'])
      d.apply(notice({ id, expires_at_ms: NOW + 2 * HOUR }), NOW + 4 * 60_000);
    expect(d.match({ tenant: 'acme', familyId: 'real-family' }, NOW + 5 * 60_000)?.id).toBe('real-family');
    expect(d.size).toBe(3);
    expect(d.stats()).toMatchObject({ evicted: 4, full: true });
    expect(alarms).toEqual([{ maxEntries: 3, evicted: 1, evictedExpiresMs: NOW + HOUR }]); // rate-limited
    expect(errors).toEqual([expect.stringMatching(/denylist is full/)]);
    d.close();
  });

  it('refuses notices with absurd times and cuts an endless expiry to maxLifetimeMs', () => {
    const d = new Denylist({ logger: quiet, maxClockSkewMs: 60_000, maxLifetimeMs: 86_400_000 });
    expect(d.apply(notice({ revoked_at_ms: NOW + 61_000 }), NOW)).toBe(false); // revoked in the future
    expect(d.apply(notice({ revoked_at_ms: 5 }), NOW)).toBe(false); // 1970
    expect(d.apply(notice({ expires_at_ms: Number.MAX_SAFE_INTEGER + 2 }), NOW)).toBe(false);
    expect(d.apply(notice({ revoked_at_ms: NOW + 59_000, expires_at_ms: 9e15 }), NOW)).toBe(true);
    expect(d.stats()).toMatchObject({ invalid: 3, clamped: 1, entries: 1 });
    expect(d.match({ tenant: 'acme', jti: 'jti-1' }, NOW + 86_399_000)).toBeDefined();
    expect(d.match({ tenant: 'acme', jti: 'jti-1' }, NOW + 86_400_000)).toBeUndefined();
    d.close();
  });

  it('matches notices v2 by the hash of the token’s ids, without ever holding the ids', () => {
    const d = new Denylist({ logger: quiet });
    const v2 = (target: string, id: string) => ({
      version: 2,
      revocation_id: `rev-${id}`,
      tenant: 'acme',
      subject_sha256: idHash('alice'),
      target,
      id_sha256: idHash(id),
      expires_at_ms: NOW + 60_000,
      revoked_at_ms: NOW,
    });
    expect(idHash('jti-1')).toBe(createHash('sha256').update('jti-1').digest('base64url'));
    for (const [t, id] of [
      ['jti', 'j-9'],
      ['family', 'f-9'],
      ['session', 's-9'],
      ['subject', 'bob'],
    ] as const)
      expect(d.apply(v2(t, id), NOW)).toBe(true);
    expect(d.match({ tenant: 'acme', jti: 'j-9' }, NOW)).toStrictEqual({
      target: 'jti',
      id: 'j-9',
      revocation_id: 'rev-j-9',
    });
    expect(d.match({ tenant: 'acme', familyId: 'f-9' }, NOW)?.target).toBe('family');
    expect(d.match({ tenant: 'acme', sessionId: 's-9' }, NOW)?.target).toBe('session');
    expect(d.match({ tenant: 'acme', subject: 'bob', iat: NOW / 1000 - 5 }, NOW)?.target).toBe('subject');
    expect(d.match({ tenant: 'acme', subject: 'bob', iat: NOW / 1000 + 5 }, NOW)).toBeUndefined();
    expect(d.match({ tenant: 'acme', jti: idHash('j-9') }, NOW)).toBeUndefined(); // the hash is not the id
    expect(d.match({ tenant: 'globex', jti: 'j-9' }, NOW)).toBeUndefined();
    expect(d.apply({ ...v2('jti', 'x'), id_sha256: 'not-a-hash' }, NOW)).toBe(false);
    d.close();
  });

  it('property: never over maxEntries, and a live entry is pushed out only before every later-expiring one', () => {
    const MIN = 60_000;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(
          fc.record({
            id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'),
            target: fc.constantFrom('jti', 'family'),
            ttlMin: fc.integer({ min: -2, max: 60 }),
            advanceMin: fc.integer({ min: 0, max: 3 }),
          }),
          { maxLength: 60 },
        ),
        (max, ops) => {
          const d = new Denylist({ maxEntries: max, logger: quiet });
          let now = NOW;
          // the model: expiry by key, of what the denylist should hold (applied, not evicted)
          const model = new Map<string, number>();
          for (const op of ops) {
            now += op.advanceMin * MIN;
            const key = `${op.target}:${op.id}`;
            const before = d.stats().evicted;
            const expiresAt = now + op.ttlMin * MIN + 1;
            const applied = d.apply(notice({ target: op.target, id: op.id, expires_at_ms: expiresAt }), now);
            expect(applied).toBe(expiresAt > now);
            expect(d.size).toBeLessThanOrEqual(max);
            if (!applied) continue;
            model.set(key, Math.max(model.get(key) ?? 0, expiresAt));
            for (const [k, exp] of model) if (exp <= now) model.delete(k);
            const present = (k: string) => {
              const [target, id] = k.split(':') as ['jti' | 'family', string];
              return (
                d.match(
                  target === 'jti' ? { tenant: 'acme', jti: id } : { tenant: 'acme', familyId: id },
                  now,
                ) !== undefined
              );
            };
            const gone = [...model.keys()].filter((k) => !present(k));
            if (d.stats().evicted > before) {
              expect(gone.length).toBeGreaterThan(0);
              // whatever was pushed out expired no later (to the minute) than anything else still held
              const kept = [...model]
                .filter(([k]) => k !== key && present(k))
                .map(([, e]) => Math.floor(e / MIN));
              for (const k of gone)
                expect(Math.floor(model.get(k)! / MIN)).toBeLessThanOrEqual(Math.min(...kept));
            }
            expect(present(key)).toBe(true); // the newest is held
            for (const k of gone) model.delete(k);
            expect(gone.length).toBeLessThanOrEqual(d.stats().evicted - before);
          }
          d.close();
        },
      ),
      { numRuns: 300 },
    );
  });
});
