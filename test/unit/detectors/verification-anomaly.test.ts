import { describe, expect, it } from 'vitest';
import type { DetectorEvent } from '../../../detectors/types.ts';
import { detectVerificationAnomaly } from '../../../detectors/verification-anomaly.ts';
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
});
