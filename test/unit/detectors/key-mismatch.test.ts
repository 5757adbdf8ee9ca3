import { describe, expect, it } from 'vitest';
import { detectImpossibleTravel } from '../../../detectors/impossible-travel.ts';
import { detectKeyMismatch } from '../../../detectors/key-mismatch.ts';
import type { DetectorEvent } from '../../../detectors/types.ts';
import { ev, MINUTE, PLACES, run, SECOND, T0 } from './helpers.ts';

const A = '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I';
const B = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
const detect = (events: DetectorEvent[]) => run(detectKeyMismatch, events).findings;
const issuance = (at: number, bound = A) =>
  ev({
    at,
    type: 'issuance',
    outcome: 'ok',
    reason: 'password',
    family_id: 'fam-1',
    access_jti: 'jti-1',
    jti: 'jti-1',
    bound_key_thumbprint: bound,
  });
const use = (at: number, proof: string, fields: Partial<Parameters<typeof ev>[0]> = {}) =>
  ev({
    at,
    jti: 'jti-1',
    bound_key_thumbprint: A,
    proof_key_thumbprint: proof,
    ...(proof === A ? {} : { outcome: 'rejected', reason: 'dpop_key_mismatch' }),
    ...fields,
  });

describe('key_mismatch', () => {
  it("a proof by another key than the token's: critical, revokes the family the auth server issued it in", () => {
    const findings = detect([
      issuance(T0),
      use(T0 + SECOND, A),
      use(T0 + MINUTE, B, { place: PLACES.saoPaulo }),
    ]);
    expect(findings).toEqual([
      expect.objectContaining({
        detector: 'key_mismatch',
        severity: 'critical',
        target: { kind: 'family', id: 'fam-1' },
        family_id: 'fam-1',
        action: 'revoke_family',
        first_event_ms: T0,
        detected_ms: T0 + MINUTE,
      }),
    ]);
    expect(findings[0]!.evidence).toMatchObject({ bound_key_thumbprint: A, proof_key_thumbprint: B });
    expect(findings[0]!.evidence.events.map((e) => e.type)).toEqual(['issuance', 'verification']);
  });

  it('a family unknown (no issuance seen): the jti', () => {
    expect(detect([use(T0, B)])).toEqual([
      expect.objectContaining({ target: { kind: 'jti', id: 'jti-1' }, action: 'revoke_jti' }),
    ]);
  });

  it('the family the event names wins', () => {
    expect(detect([issuance(T0), use(T0 + SECOND, B, { family_id: 'fam-9' })])[0]?.target).toEqual({
      kind: 'family',
      id: 'fam-9',
    });
  });

  it('nothing for the right key, an unbound token, a proof-less event, or a forged token', () => {
    expect(
      detect([
        issuance(T0),
        use(T0 + SECOND, A),
        ev({ at: T0 + 2 * SECOND, jti: 'jti-2', proof_key_thumbprint: B }),
        ev({
          at: T0 + 3 * SECOND,
          jti: 'jti-1',
          bound_key_thumbprint: A,
          reason: 'dpop_proof_missing',
          outcome: 'rejected',
        }),
        use(T0 + 4 * SECOND, B, { reason: 'bad_signature' }),
      ]),
    ).toEqual([]);
  });

  it('one finding per family per window', () => {
    expect(detect([issuance(T0), use(T0 + SECOND, B), use(T0 + 2 * SECOND, B)])).toHaveLength(1);
  });
});

describe('impossible_travel with one bound key', () => {
  const travel = (events: DetectorEvent[]) => run(detectImpossibleTravel, events).findings;

  it('the same proof key on both sides: one client that moved its network — alert only, medium', () => {
    const findings = travel([use(T0, A), use(T0 + 20 * MINUTE, A, { place: PLACES.saoPaulo })]);
    expect(findings).toEqual([
      expect.objectContaining({
        detector: 'impossible_travel',
        kind: 'jti moved network with its bound key',
        severity: 'medium',
        action: 'alert_only',
      }),
    ]);
  });

  it("the auth server's issuance of the bound token counts as proved by its key", () => {
    const findings = travel([issuance(T0), use(T0 + 20 * MINUTE, A, { place: PLACES.saoPaulo })]);
    expect(findings.map((f) => [f.kind, f.action])).toEqual([
      ['jti moved network with its bound key', 'alert_only'],
    ]);
  });

  it('another key on one side: impossible travel as ever (high, revoke)', () => {
    const findings = travel([use(T0, A), use(T0 + 20 * MINUTE, B, { place: PLACES.saoPaulo })]);
    expect(findings).toEqual([
      expect.objectContaining({
        kind: 'jti used from places too far apart',
        severity: 'high',
        action: 'revoke_jti',
      }),
    ]);
  });

  it('a copy without a proof beside the key-bound client is impossible travel, not a move', () => {
    const findings = travel([
      use(T0, A),
      use(T0 + 10 * MINUTE, A, { place: PLACES.saoPaulo }),
      ev({ at: T0 + 20 * MINUTE, jti: 'jti-1', place: PLACES.saoPaulo }),
    ]);
    expect(findings.map((f) => [f.severity, f.action])).toContainEqual(['high', 'revoke_jti']);
  });
});
