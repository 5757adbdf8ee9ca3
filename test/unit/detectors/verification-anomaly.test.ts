import { describe, expect, it } from 'vitest';
import { REGISTRY } from '../../../detectors/registry.ts';
import { newKeyedState, SubjectState } from '../../../detectors/state.ts';
import { buildThresholds } from '../../../detectors/thresholds.ts';
import type { DetectorEvent } from '../../../detectors/types.ts';
import { detectVerificationAnomaly, readsSourceState } from '../../../detectors/verification-anomaly.ts';
import { ev, MINUTE, PLACES, run, SECOND, T0 } from './helpers.ts';

const detect = (events: DetectorEvent[], settings = {}) =>
  run(detectVerificationAnomaly, events, settings).findings;
const rejected = (
  at: number,
  reason: string,
  extra: Partial<DetectorEvent> & { place?: (typeof PLACES)[keyof typeof PLACES] } = {},
) => ev({ at, outcome: 'rejected', reason, ...extra });

describe('verification_anomaly', () => {
  it('alg none / algorithm confusion → a forging attempt, per source IP', () => {
    const findings = detect([
      rejected(T0, 'alg_not_allowed', { alg: 'none', subject: '', place: PLACES.tokyo }),
      rejected(T0 + SECOND, 'alg_not_allowed', { alg: 'HS256', subject: '', place: PLACES.tokyo }),
    ]);
    expect(findings).toEqual([
      expect.objectContaining({
        kind: 'forged token: algorithm not allowed',
        severity: 'high',
        target: { kind: 'source_ip', id: PLACES.tokyo.ip },
      }),
    ]);
  });

  it('a burst of bad signatures from one IP and against one subject', () => {
    const events = Array.from({ length: 20 }, (_, i) =>
      rejected(T0 + i * SECOND, i % 2 ? 'bad_signature' : 'unknown_kid', { place: PLACES.saoPaulo }),
    );
    const findings = detect(events);
    expect(findings.map((f) => f.target)).toEqual([
      { kind: 'source_ip', id: PLACES.saoPaulo.ip },
      { kind: 'subject', id: 'alice' },
    ]);
    expect(findings[0]!.evidence).toMatchObject({
      count: 20,
      reasons: { bad_signature: 10, unknown_kid: 10 },
    });
    expect(findings[0]!.first_event_ms).toBe(T0);
  });

  it('takes the burst threshold and window from the thresholds', () => {
    const events = Array.from({ length: 5 }, (_, i) => rejected(T0 + i * SECOND, 'wrong_audience'));
    expect(detect(events)).toEqual([]);
    expect(detect(events, { burstThreshold: 5 })).toHaveLength(2);
    const slow = Array.from({ length: 20 }, (_, i) => rejected(T0 + i * 10 * SECOND, 'wrong_issuer'));
    expect(detect(slow)).toEqual([]); // 20 in 190 s is under 20 per minute
  });

  it('a revoked token from a network the owner never used', () => {
    const findings = detect([
      ev({ at: T0, jti: 'j0' }),
      rejected(T0 + MINUTE, 'revoked', { jti: 'j1', place: PLACES.saoPaulo }),
    ]);
    expect(findings).toEqual([
      expect.objectContaining({
        kind: 'revoked token presented from a network its owner never used',
        target: { kind: 'jti', id: 'j1' },
      }),
    ]);
  });

  it.each([
    [
      'a revoked token from the owner’s own network (a stale client)',
      [
        ev({ at: T0, jti: 'j0' }),
        rejected(T0 + MINUTE, 'revoked', { jti: 'j1', place: PLACES.berlinSameNetwork }),
      ],
    ],
    [
      'a revoked token for an owner never seen (nothing to compare with)',
      [rejected(T0, 'revoked', { jti: 'j1', place: PLACES.saoPaulo })],
    ],
    ['a few expired tokens', Array.from({ length: 30 }, (_, i) => rejected(T0 + i * SECOND, 'expired'))],
    ['accepted tokens', [ev({ at: T0 }), ev({ at: T0 + 1 })]],
  ])('no finding: %s', (_what, events) => {
    expect(detect(events)).toEqual([]);
  });

  it('splits into a per-subject and a per-source part that together find what it finds', () => {
    const events = [
      ev({ at: T0, jti: 'j0' }),
      ...Array.from({ length: 22 }, (_, i) =>
        rejected(T0 + i * SECOND, i % 3 ? 'bad_signature' : 'wrong_audience', { place: PLACES.saoPaulo }),
      ),
      rejected(T0 + 30 * SECOND, 'alg_not_allowed', { alg: 'none', place: PLACES.tokyo }),
      rejected(T0 + MINUTE, 'revoked', { jti: 'j1', place: PLACES.saoPaulo }),
    ];
    const both = detect(events);
    const bySubject = run(
      (k, e, t) => detectVerificationAnomaly(k, e, t as never, 'subject'),
      events,
    ).findings;
    const bySource = run((k, e, t) => detectVerificationAnomaly(k, e, t as never, 'source'), events).findings;
    expect(bySubject.map((f) => f.target.kind)).toEqual(['subject', 'jti']);
    expect(bySource.map((f) => f.target.kind)).toEqual(['source_ip', 'source_ip']);
    const key = (f: (typeof both)[number]) => `${f.kind}|${f.target.id}|${f.trigger_event_id}`;
    expect([...bySubject, ...bySource].map(key).sort()).toEqual(both.map(key).sort());
  });

  it('says which events its per-source part reads (those alone are sent to the address’s owner)', () => {
    const reasons = [
      'ok',
      'expired',
      'revoked',
      'alg_not_allowed',
      'bad_signature',
      'unknown_kid',
      'wrong_audience',
      'wrong_issuer',
      'malformed',
    ];
    const cfg = buildThresholds(REGISTRY.defaults) as Parameters<typeof detectVerificationAnomaly>[2];
    for (const type of ['verification', 'refresh'] as const)
      for (const outcome of ['accepted', 'rejected'])
        for (const reason of reasons)
          for (const alg of ['EdDSA', 'none', 'NONE'])
            for (const place of [
              PLACES.berlin,
              { ...PLACES.berlin, ip: '' },
            ] as (typeof PLACES)['berlin'][]) {
              const e = ev({ at: T0, type, outcome, reason, alg, place });
              let read = false;
              const k = newKeyedState();
              const spy = {
                subject: new SubjectState(),
                get source() {
                  read = true;
                  return k.source;
                },
              };
              detectVerificationAnomaly(spy, e, cfg, 'source');
              expect(readsSourceState(e), JSON.stringify({ type, outcome, reason, alg, ip: e.ip })).toBe(
                read,
              );
              // and the per-subject part never reads it
              read = false;
              detectVerificationAnomaly(spy, e, cfg, 'subject');
              expect(read).toBe(false);
            }
  });
});
