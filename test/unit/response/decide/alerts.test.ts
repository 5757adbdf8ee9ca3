import { describe, expect, it } from 'vitest';
import { toDetection } from '../../../../detectors/detection.ts';
import type { Finding } from '../../../../detectors/types.ts';
import { detectionAlert, guardAlert } from '../../../../response/decide/alerts.ts';
import { DEFAULT_POLICY, intentOf } from '../../../../response/decide/policy.ts';

const finding: Finding = {
  detector: 'refresh_replay',
  kind: 'rotated refresh token presented again',
  severity: 'critical',
  confidence: 1,
  tenant: 'acme',
  subject: 'alice',
  target: { kind: 'family', id: 'f1' },
  jti: 'j1',
  family_id: 'f1',
  session_id: '',
  action: 'revoke_family',
  evidence: {
    events: [
      {
        event_id: 'e1',
        type: 'refresh',
        time_ms: Date.UTC(2026, 10, 22, 10, 0, 0),
        ip: '200.147.67.142',
        country: 'BR',
        city: 'São Paulo',
        lat: -23.5475,
        lon: -46.6361,
        device_id: 'thief-laptop',
        user_agent: 'python-requests',
        outcome: 'rotated',
        reason: 'ok',
      },
    ],
  },
  first_event_ms: 1,
  detected_ms: 2,
  trigger_event_id: 'e1',
};

describe('alerts', () => {
  it('a detection: what happened, to whom, what was done, from where; grouped per subject', () => {
    const d = { ...toDetection(finding, false, 3), response: 'revoke' as const, revocation_id: 'r1' };
    const a = detectionAlert(d, intentOf(d, DEFAULT_POLICY), 'https://tw.example/');
    expect(a.title).toBe(
      'Refresh token replay — alice: rotated refresh token presented again; revoking family f1',
    );
    expect(a.text).toContain(
      '2026-11-22T10:00:00.000Z refresh/rotated from 200.147.67.142 (São Paulo, BR) device thief-laptop',
    );
    expect(a).toMatchObject({
      kind: 'detection',
      group_key: 'acme:alice',
      severity: 'critical',
      fields: { response: 'revoke', revocation_id: 'r1', target: 'family', target_id: 'f1' },
      url: 'https://tw.example/v1/detections?tenant=acme&subject=alice',
    });
  });

  it('says when nothing was revoked, and why', () => {
    const suppressed = { ...toDetection(finding, false, 3), response: 'suppressed' as const };
    expect(detectionAlert(suppressed, intentOf(suppressed, DEFAULT_POLICY), '').title).toMatch(
      /family f1 NOT revoked: blast-radius guard holding$/,
    );
    const alertOnly = {
      ...toDetection({ ...finding, action: 'alert_only' }, false, 3),
      response: 'alert_only' as const,
    };
    const a = detectionAlert(alertOnly, intentOf(alertOnly, DEFAULT_POLICY), '');
    expect(a.title).toMatch(/; alert only$/);
    expect(a.text).toContain('refresh_replay asks for an alert only');
    expect(a.url).toBeUndefined();
  });

  it('the guard page names the limit and the knob', () => {
    const a = guardAlert('tenant', 'acme', 30, 5);
    expect(a).toMatchObject({
      kind: 'guard_tripped',
      group_key: 'guard',
      severity: 'critical',
      tenant: 'acme',
    });
    expect(a.title).toContain('more than 30 revocations/min for tenant acme');
    expect(a.text).toContain('TOKENWATCH_GUARD_TENANT_PER_MINUTE');
  });
});
