/** Corroboration before revoking, table-driven: who reported a finding's evidence → revoke or alert only, and why. */
import { describe, expect, it } from 'vitest';
import type { EvidenceEvent, Finding, RevocationTarget } from '../../../../detectors/types.ts';
import { corroborate, reportersText } from '../../../../response/decide/corroboration.ts';

const NOW = 1_800_000_000_000;

const AUTH = { reporter_id: 'acme:auth00000001', reporter_role: 'auth-server' };
const V1 = { reporter_id: 'acme:verifier0001', reporter_role: 'verifier' };
const V2 = { reporter_id: 'acme:verifier0002', reporter_role: 'verifier' };
const LEGACY = { reporter_id: 'acme:nokeyrole001', reporter_role: '' };

function event(over: Partial<EvidenceEvent>): EvidenceEvent {
  return {
    event_id: `e${Math.random()}`,
    type: 'verification',
    time_ms: NOW,
    ip: '85.214.132.117',
    country: 'DE',
    city: 'Berlin',
    lat: 52.5,
    lon: 13.4,
    device_id: '',
    user_agent: 'ua',
    outcome: 'accepted',
    reason: 'ok',
    ...over,
  };
}
const accepted = (by: object) => event({ ...by });
const refresh = (by: object, reason = 'ok') =>
  event({ type: 'refresh', outcome: reason === 'ok' ? 'rotated' : 'rejected', reason, ...by });
const rejected = (by: object, reason: string) => event({ outcome: 'rejected', reason, ...by });

function finding(events: EvidenceEvent[], target: Finding['target']['kind'] = 'family'): Finding {
  return {
    detector: 'impossible_travel',
    kind: 'family used from places too far apart',
    severity: 'high',
    confidence: 0.95,
    tenant: 'acme',
    subject: 'victim',
    target: { kind: target, id: target === 'jti' ? 'j1' : 'f1' },
    jti: 'j1',
    family_id: 'f1',
    session_id: '',
    action: target === 'jti' ? 'revoke_jti' : 'revoke_family',
    evidence: { events },
    first_event_ms: NOW - 1000,
    detected_ms: NOW,
    trigger_event_id: 'e-trigger',
  };
}

const CASES: [string, EvidenceEvent[], RevocationTarget, string][] = [
  // [case, evidence, target asked for, expected: basis or "alert: <part of why>"]
  [
    'the auth server’s own reports',
    [refresh(AUTH), refresh(AUTH, 'reuse_detected')],
    'family',
    'auth_server',
  ],
  ['a key without a role keeps today’s rights', [refresh(LEGACY), accepted(LEGACY)], 'family', 'auth_server'],
  ['events stored before reporters were recorded', [event({}), event({})], 'family', 'auth_server'],
  [
    'a verified presence plus an auth-server fact: the jti',
    [refresh(AUTH), accepted(V1)],
    'jti',
    'presence_and_auth_server',
  ],
  [
    // one verifier's invented presence beside the victim's own refresh must not log the victim out
    'a verified presence plus an auth-server fact: not the family',
    [refresh(AUTH), accepted(V1)],
    'family',
    'alert: revokes the presented jti only, not the family',
  ],
  ['two independent verifiers', [accepted(V1), accepted(V2)], 'jti', 'independent_reporters'],
  ['two independent verifiers, family', [accepted(V1), accepted(V2)], 'family', 'independent_reporters'],
  ['one verifier’s word alone (two continents)', [accepted(V1), accepted(V1)], 'jti', 'alert: one verifier'],
  ['one verifier’s word alone (two devices)', [accepted(V1), accepted(V1)], 'family', 'alert: one verifier'],
  ['one verifier, one event', [accepted(V1)], 'family', 'alert: one verifier'],
  [
    'reuse_detected from a verifier key',
    [refresh(V1, 'reuse_detected')],
    'family',
    'alert: auth-server key only',
  ],
  [
    'reuse_detected from a verifier beside its own presence',
    [refresh(V1, 'reuse_detected'), accepted(V1)],
    'family',
    'alert: one verifier',
  ],
  [
    'an expired token replayed, family',
    [accepted(AUTH), rejected(AUTH, 'expired')],
    'family',
    'alert: expired',
  ],
  [
    'an expired token replayed, two verifiers, family',
    [accepted(V1), rejected(V2, 'expired')],
    'family',
    'alert: expired',
  ],
  [
    'wrong_audience and revoked, session',
    [rejected(V1, 'wrong_audience'), rejected(V2, 'revoked')],
    'session',
    'alert: wrong_audience, revoked',
  ],
  [
    'an expired token replayed, its own jti',
    [accepted(V1), rejected(V2, 'expired')],
    'jti',
    'independent_reporters',
  ],
  ['nothing in the evidence', [], 'family', 'alert: nothing in the evidence counts'],
];

describe('corroborate', () => {
  it.each(CASES)('%s', (_name, events, target, expected) => {
    const c = corroborate(finding(events, target === 'jti' ? 'jti' : 'family'), target);
    if (expected.startsWith('alert: ')) {
      expect(c.revoke).toBe(false);
      expect(!c.revoke && c.why).toContain(expected.slice('alert: '.length));
    } else expect(c).toStrictEqual({ revoke: true, basis: expected });
  });

  it('names the reporters in its reason', () => {
    const c = corroborate(finding([accepted(V1), accepted(V1)]), 'family');
    expect(!c.revoke && c.why).toContain('acme:verifier0001 (verifier)');
    expect(reportersText([accepted(V1), refresh(AUTH), event({})])).toBe(
      'acme:verifier0001 (verifier), acme:auth00000001 (auth-server), unknown key (no role)',
    );
  });

  it('a rejected-but-signed presence never revokes more than its own jti', () => {
    for (const target of ['family', 'session', 'subject'] as const)
      expect(corroborate(finding([refresh(AUTH), rejected(AUTH, 'revoked')]), target).revoke).toBe(false);
  });
});
