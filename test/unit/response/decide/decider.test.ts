/** The pure response decision, table-driven: detections, policy, guard and memory in; decisions, rows, revocations to start and alerts out. */
import { describe, expect, it } from 'vitest';
import type { RevocationTarget } from '../../../../contract/revocation-api-v1.ts';
import { type Detection, toDetection } from '../../../../detectors/detection.ts';
import type { EvidenceEvent, Finding } from '../../../../detectors/types.ts';
import { type DecisionContext, DecisionMemory, decide } from '../../../../response/decide/decider.ts';
import { BlastRadiusGuard } from '../../../../response/decide/guard.ts';
import { DEFAULT_POLICY, type ResponsePolicy, revocationId } from '../../../../response/decide/policy.ts';

const NOW = 1_800_000_000_000;

const AUTH_SERVER_REFRESH: EvidenceEvent = {
  event_id: 'e-refresh',
  type: 'refresh',
  time_ms: NOW - 1000,
  ip: '85.214.132.117',
  country: 'DE',
  city: 'Berlin',
  lat: 52.5,
  lon: 13.4,
  device_id: '',
  user_agent: 'ua',
  outcome: 'rejected',
  reason: 'reuse_detected',
  reporter_id: 'acme:authserver01',
  reporter_role: 'auth-server',
};

function detection(over: Partial<Finding> = {}, dryRun = false): Detection {
  const f: Finding = {
    detector: 'refresh_replay',
    kind: 'rotated refresh token presented again',
    severity: 'critical',
    confidence: 1,
    tenant: 'acme',
    subject: 'u1',
    target: { kind: 'family', id: 'f1' },
    jti: 'j1',
    family_id: 'f1',
    session_id: 's1',
    action: 'revoke_family',
    // the auth server's own report: corroborated (corroboration.test.ts has the other cases)
    evidence: { events: [AUTH_SERVER_REFRESH] },
    first_event_ms: NOW - 2000,
    detected_ms: NOW - 1000,
    trigger_event_id: `e-${over.target?.id ?? 'f1'}-${over.detector ?? 'refresh_replay'}`,
    ...over,
  };
  return toDetection(f, dryRun, NOW);
}

const family = (id: string, over: Partial<Finding> = {}) =>
  detection({ target: { kind: 'family', id }, family_id: id, trigger_event_id: `e-${id}`, ...over });
const familyId = (id: string, tenant = 'acme') =>
  revocationId({ tenant, subject: 'u1', target: 'family', id });

function context(over: Partial<DecisionContext> = {}): DecisionContext {
  return {
    policy: DEFAULT_POLICY,
    guard: new BlastRadiusGuard({ perTenantPerMinute: 30, totalPerMinute: 120 }),
    memory: new DecisionMemory(),
    nowMs: NOW,
    canRevoke: true,
    expiresMs: (d: Detection, target: RevocationTarget) =>
      d.detected_ms + (target === 'jti' ? 900_000 : 86_400_000),
    publicUrl: '',
    ...over,
  };
}

interface Case {
  name: string;
  detections: Detection[];
  context?: Partial<DecisionContext>;
  /** run these first, with the same context (what was decided before) */
  before?: Detection[];
  decisions: string[];
  rows: { status: string; target: string; id: string; error?: string }[];
  started: { id: string; named: string[] }[];
  alerts: string[];
}

const dryRunPolicy: ResponsePolicy = {
  ...DEFAULT_POLICY,
  refresh_replay: { ...DEFAULT_POLICY['refresh_replay']!, dryRun: true },
};

const CASES: Case[] = [
  {
    name: 'a replay revokes its family: stored pending, started with the jti it names, alerted',
    detections: [family('f1')],
    decisions: ['revoke'],
    rows: [{ status: 'pending', target: 'family', id: 'f1' }],
    started: [{ id: 'f1', named: ['j1'] }],
    alerts: ['detection'],
  },
  {
    name: 'an alert-only detector decides alert_only: no row, an alert',
    detections: [
      detection({
        detector: 'verification_anomaly',
        action: 'alert_only',
        target: { kind: 'source_ip', id: '1.2.3.4' },
      }),
    ],
    decisions: ['alert_only'],
    rows: [],
    started: [],
    alerts: ['detection'],
  },
  {
    name: 'below the policy’s minimum severity: alert only',
    detections: [family('f1', { severity: 'medium' })],
    decisions: ['alert_only'],
    rows: [],
    started: [],
    alerts: ['detection'],
  },
  {
    name: 'three detectors on one family: one revocation, the others duplicates, every jti named',
    detections: [
      family('f1'),
      family('f1', { detector: 'impossible_travel', trigger_event_id: 'e-f1-travel', jti: 'j2' }),
      family('f1', { detector: 'device_reuse', trigger_event_id: 'e-f1-device', jti: 'j3' }),
    ],
    decisions: ['revoke', 'duplicate', 'duplicate'],
    rows: [{ status: 'pending', target: 'family', id: 'f1' }],
    started: [{ id: 'f1', named: ['j1', 'j2', 'j3'] }],
    alerts: ['detection', 'detection', 'detection'],
  },
  {
    name: 'the same detection again (redelivered): its first decision stands, nothing new',
    before: [family('f1')],
    detections: [family('f1')],
    decisions: ['revoke'],
    rows: [],
    started: [],
    alerts: [],
  },
  {
    name: 'a target revoked before, by another detection: duplicate',
    before: [family('f1')],
    detections: [family('f1', { trigger_event_id: 'e-later' })],
    decisions: ['duplicate'],
    rows: [],
    started: [],
    alerts: ['detection'],
  },
  {
    name: 'a detector in dry-run: recorded dry_run, never started',
    context: { policy: dryRunPolicy },
    detections: [family('f1')],
    decisions: ['dry_run'],
    rows: [{ status: 'dry_run', target: 'family', id: 'f1' }],
    started: [],
    alerts: ['detection'],
  },
  {
    name: 'no auth API configured: recorded dry_run with the reason',
    context: { canRevoke: false },
    detections: [family('f1')],
    decisions: ['dry_run'],
    rows: [{ status: 'dry_run', target: 'family', id: 'f1', error: 'no auth API configured' }],
    started: [],
    alerts: ['detection'],
  },
  {
    name: 'past the tenant’s guard budget: suppressed, paged once',
    context: { guard: new BlastRadiusGuard({ perTenantPerMinute: 1, totalPerMinute: 100 }) },
    detections: [family('f1'), family('f2'), family('f3')],
    decisions: ['revoke', 'suppressed', 'suppressed'],
    rows: [
      { status: 'pending', target: 'family', id: 'f1' },
      { status: 'suppressed', target: 'family', id: 'f2' },
      { status: 'suppressed', target: 'family', id: 'f3' },
    ],
    started: [{ id: 'f1', named: ['j1'] }],
    alerts: ['detection', 'guard_tripped', 'detection', 'detection'],
  },
];

describe('decide', () => {
  it.each(CASES)('$name', (c) => {
    const ctx = context(c.context);
    if (c.before) decide(c.before, ctx);
    const out = decide(c.detections, ctx);
    expect(out.detections.map((d) => d.response)).toEqual(c.decisions);
    expect(
      out.rows.map((r) => ({
        status: r.status,
        target: r.target_kind,
        id: r.target_id,
        ...(r.error ? { error: r.error } : {}),
      })),
    ).toEqual(c.rows);
    expect(out.start.map((s) => ({ id: s.row.target_id, named: s.named.map((n) => n.jti) }))).toEqual(
      c.started,
    );
    expect(out.alerts.map((a) => a.kind)).toEqual(c.alerts);
    // every detection that got a revocation carries its id; the others carry none
    for (const d of out.detections) expect(d.revocation_id === '').toBe(d.response === 'alert_only');
  });

  it('counts each detection once, and reports the guard trip for the metrics and the log', () => {
    const ctx = context({ guard: new BlastRadiusGuard({ perTenantPerMinute: 1, totalPerMinute: 100 }) });
    const first = decide([family('f1'), family('f2')], ctx);
    expect(first.counted).toEqual([
      { detector: 'refresh_replay', decision: 'revoke' },
      { detector: 'refresh_replay', decision: 'suppressed' },
    ]);
    expect(first.refusals).toEqual([{ scope: 'tenant', tenant: 'acme', limit: 1, tripped: true }]);
    expect(decide([family('f1'), family('f2')], ctx).counted).toEqual([]);
  });

  it('resumes from the outbox: a restored target is not revoked again', () => {
    const memory = new DecisionMemory();
    memory.restore({
      revocation_id: familyId('f1'),
      tenant: 'acme',
      subject: 'u1',
      target_kind: 'family',
      target_id: 'f1',
      status: 'done',
      attempt: 1,
      http_status: 200,
      latency_ms: 5,
      error: '',
      detection_id: 'earlier',
      detector: 'refresh_replay',
      severity: 'critical',
      reason: '',
      expires_ms: 0,
      detected_ms: 0,
      decided_ms: 0,
      time_ms: 0,
    });
    const out = decide([family('f1')], context({ memory }));
    expect(out.detections[0]!.response).toBe('duplicate');
    expect(out.rows).toEqual([]);
  });

  it('expiry: the row says until when the revocation is in force', () => {
    const out = decide([family('f1')], context());
    expect(out.rows[0]!.expires_ms).toBe(NOW - 1000 + 86_400_000);
    expect(out.start[0]!.named).toEqual([{ jti: 'j1', expires_ms: NOW - 1000 + 900_000 }]);
  });

  it('one verifier’s word alone is alert-only, and the alert names the reporter; the auth server’s word revokes', () => {
    const verifier: EvidenceEvent = {
      ...AUTH_SERVER_REFRESH,
      type: 'verification',
      outcome: 'accepted',
      reason: 'ok',
      reporter_id: 'acme:verifier0001',
      reporter_role: 'verifier',
    };
    const framed = family('f-victim', { evidence: { events: [verifier] } });
    const real = family('f-attacked');
    const out = decide([framed, real], context());
    expect(out.detections.map((d) => d.response)).toEqual(['alert_only', 'revoke']);
    expect(out.rows.map((r) => r.target_id)).toEqual(['f-attacked']);
    const alert = out.alerts.find((a) => a.fields['detection_id'] === framed.detection_id)!;
    expect(alert.text).toContain("one verifier's word alone");
    expect(alert.text).toContain('acme:verifier0001 (verifier)');
    expect(alert.fields['reporters']).toBe('acme:verifier0001 (verifier)');
  });
});
