import { describe, expect, it } from 'vitest';
import { type Detection, toDetection } from '../../../../detectors/detection.ts';
import type { Finding } from '../../../../detectors/types.ts';
import { DEFAULT_POLICY, intentOf, revocationId } from '../../../../response/decide/policy.ts';

function detection(over: Partial<Finding> = {}, dryRun = false): Detection {
  const f: Finding = {
    detector: 'refresh_replay',
    kind: 'rotated refresh token presented again',
    severity: 'high',
    confidence: 1,
    tenant: 'acme',
    subject: 'u1',
    target: { kind: 'family', id: 'f1' },
    jti: 'j1',
    family_id: 'f1',
    session_id: 's1',
    action: 'revoke_family',
    evidence: { events: [] },
    first_event_ms: 1,
    detected_ms: 2,
    trigger_event_id: 'e2',
    ...over,
  };
  return toDetection(f, dryRun, 3);
}

describe('response policy', () => {
  it('auto follows the detector: revoke_family → family, revoke_jti → jti, alert_only → none', () => {
    expect(intentOf(detection(), DEFAULT_POLICY)).toMatchObject({
      revoke: true,
      ref: { tenant: 'acme', subject: 'u1', target: 'family', id: 'f1' },
      dryRun: false,
    });
    expect(
      intentOf(
        detection({ detector: 'impossible_travel', action: 'revoke_jti', target: { kind: 'jti', id: 'j1' } }),
        DEFAULT_POLICY,
      ),
    ).toMatchObject({ revoke: true, ref: { target: 'jti', id: 'j1' } });
    expect(intentOf(detection({ action: 'alert_only' }), DEFAULT_POLICY)).toMatchObject({ revoke: false });
  });

  it('below the minimum severity, or a detector set to none, is alert only', () => {
    expect(intentOf(detection({ severity: 'medium' }), DEFAULT_POLICY)).toEqual({
      revoke: false,
      why: 'severity medium is below high',
    });
    expect(intentOf(detection({ detector: 'verification_anomaly' }), DEFAULT_POLICY)).toMatchObject({
      revoke: false,
    });
  });

  it('an explicit target takes its id from the finding; a missing id is alert only', () => {
    const policy = {
      ...DEFAULT_POLICY,
      refresh_replay: { target: 'session' as const, minSeverity: 'low' as const, dryRun: false },
    };
    expect(intentOf(detection(), policy)).toMatchObject({
      revoke: true,
      ref: { target: 'session', id: 's1' },
    });
    expect(intentOf(detection({ session_id: '' }), policy)).toEqual({
      revoke: false,
      why: 'the finding has no session to revoke',
    });
  });

  it('dry-run from the policy or from the detection', () => {
    const policy = {
      ...DEFAULT_POLICY,
      refresh_replay: { ...DEFAULT_POLICY['refresh_replay']!, dryRun: true },
    };
    expect(intentOf(detection(), policy)).toMatchObject({ revoke: true, dryRun: true });
    expect(intentOf(detection({}, true), DEFAULT_POLICY)).toMatchObject({ revoke: true, dryRun: true });
  });

  it('requireStrongDevice: weak device evidence is alert only, naming why; strong or none is untouched', () => {
    const policy = {
      ...DEFAULT_POLICY,
      device_reuse: { ...DEFAULT_POLICY['device_reuse']!, requireStrongDevice: true },
    };
    const onDevices = (device_trust?: string) =>
      detection({
        detector: 'device_reuse',
        action: 'revoke_jti',
        target: { kind: 'jti', id: 'j1' },
        evidence: { events: [], ...(device_trust === undefined ? {} : { device_trust }) },
      });
    expect(intentOf(onDevices('weak'), policy)).toEqual({
      revoke: false,
      why: 'device_reuse on weak device ids (sent by the client in a header or cookie): alert only, the policy requires strong ones to revoke',
    });
    expect(intentOf(onDevices('strong'), policy)).toMatchObject({ revoke: true, ref: { target: 'jti' } });
    expect(intentOf(onDevices(), policy)).toMatchObject({ revoke: true });
    // the default policy does not require it
    expect(intentOf(onDevices('weak'), DEFAULT_POLICY)).toMatchObject({ revoke: true });
  });

  it('one revocation id per target, whatever the detection', () => {
    const ref = { tenant: 'acme', subject: 'u1', target: 'family' as const, id: 'f1' };
    expect(revocationId(ref)).toBe(revocationId({ ...ref, subject: 'someone else' }));
    expect(revocationId(ref)).not.toBe(revocationId({ ...ref, target: 'session' }));
    expect(revocationId(ref)).not.toBe(revocationId({ ...ref, tenant: 'other' }));
    expect(revocationId(ref)).toMatch(/^[0-9a-f]{32}$/);
  });
});
