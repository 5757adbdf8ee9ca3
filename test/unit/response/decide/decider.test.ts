/** The pure response decision, table-driven: detections, policy, guard and memory in; decisions, rows, revocations to start and alerts out. */
import { describe, expect, it } from 'vitest';
import type { RevocationTarget } from '../../../../contract/revocation-api-v1.ts';
import { type Detection, toDetection } from '../../../../detectors/detection.ts';
import type { EvidenceEvent, Finding } from '../../../../detectors/types.ts';
import {
  claimsFor,
  type DecisionContext,
  DecisionMemory,
  decide,
} from '../../../../response/decide/decider.ts';
import {
  type ClaimVerdict,
  type Guard,
  type GuardClaim,
  GuardLedger,
  Unanswered,
  verdictsGuard,
} from '../../../../response/decide/ledger.ts';
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
/** The detection id of family(id). */
const detectionOf = (id: string) => family(id).detection_id;
/** A shared guard's verdicts, had beforehand (detection id → verdict). */
const verdicts = (v: Record<string, ClaimVerdict>) => verdictsGuard(new Map(Object.entries(v)));

function context(over: Partial<DecisionContext> = {}): DecisionContext {
  return {
    policy: DEFAULT_POLICY,
    guard: new GuardLedger({ perTenantPerMinute: 30, totalPerMinute: 120 }),
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
  /** the error column of suppressed rows, when checked */
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
    context: { guard: new GuardLedger({ perTenantPerMinute: 1, totalPerMinute: 100 }) },
    detections: [family('f1'), family('f2'), family('f3')],
    decisions: ['revoke', 'suppressed', 'suppressed'],
    rows: [
      { status: 'pending', target: 'family', id: 'f1' },
      {
        status: 'suppressed',
        target: 'family',
        id: 'f2',
        error: 'blast-radius guard: tenant limit of 1/min',
      },
      {
        status: 'suppressed',
        target: 'family',
        id: 'f3',
        error: 'blast-radius guard: tenant limit of 1/min',
      },
    ],
    started: [{ id: 'f1', named: ['j1'] }],
    alerts: ['detection', 'guard_tripped', 'detection', 'detection'],
  },
  {
    name: 'past the overall budget: suppressed, saying which limit held',
    context: { guard: new GuardLedger({ perTenantPerMinute: 10, totalPerMinute: 1 }) },
    detections: [family('f1'), family('f2')],
    decisions: ['revoke', 'suppressed'],
    rows: [
      { status: 'pending', target: 'family', id: 'f1' },
      {
        status: 'suppressed',
        target: 'family',
        id: 'f2',
        error: 'blast-radius guard: overall limit of 1/min',
      },
    ],
    started: [{ id: 'f1', named: ['j1'] }],
    alerts: ['detection', 'guard_tripped', 'detection'],
  },
  {
    name: 'the shared guard: the target is held by another instance’s detection → duplicate, no row',
    context: { guard: verdicts({ [detectionOf('f1')]: { kind: 'held', by: 'elsewhere' } }) },
    detections: [family('f1')],
    decisions: ['duplicate'],
    rows: [],
    started: [],
    alerts: ['detection'],
  },
  {
    name: 'the shared guard: its verdicts decide, the allowed one starts',
    context: {
      guard: verdicts({
        [detectionOf('f1')]: { kind: 'refused', scope: 'tenant', limit: 7, tripped: false, page: false },
        [detectionOf('f2')]: { kind: 'allowed' },
      }),
    },
    detections: [family('f1'), family('f2')],
    decisions: ['suppressed', 'revoke'],
    rows: [
      {
        status: 'suppressed',
        target: 'family',
        id: 'f1',
        error: 'blast-radius guard: tenant limit of 7/min',
      },
      { status: 'pending', target: 'family', id: 'f2' },
    ],
    started: [{ id: 'f2', named: ['j1'] }],
    alerts: ['detection', 'detection'],
  },
  {
    name: 'the shared guard did not answer: suppressed (fail safe), the first refusal of the episode pages',
    context: {
      guard: (() => {
        const u = new Unanswered();
        return verdicts({ [detectionOf('f1')]: u.verdict(NOW), [detectionOf('f2')]: u.verdict(NOW) });
      })(),
    },
    detections: [family('f1'), family('f2'), family('f3')],
    decisions: ['suppressed', 'suppressed', 'suppressed'],
    rows: ['f1', 'f2', 'f3'].map((id) => ({
      status: 'suppressed',
      target: 'family',
      id,
      error: 'blast-radius guard: no verdict (the shared guard did not answer)',
    })),
    started: [],
    // f3 was not among the verdicts had: unanswered too, without a page
    alerts: ['guard_tripped', 'detection', 'detection', 'detection'],
  },
  {
    name: 'dry run and no auth API ask no guard: a guard that answers nothing changes nothing',
    context: { policy: dryRunPolicy, guard: verdicts({}) },
    detections: [family('f1')],
    decisions: ['dry_run'],
    rows: [{ status: 'dry_run', target: 'family', id: 'f1' }],
    started: [],
    alerts: ['detection'],
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

  it.each(CASES)('asks the guard only about targets claimsFor listed first, one claim each: $name', (c) => {
    const ctx = context(c.context);
    if (c.before) decide(c.before, ctx);
    const listed = claimsFor(c.detections, ctx);
    const asked: GuardClaim[] = [];
    const recording: Guard = {
      claim: (claim, nowMs) => {
        asked.push(claim);
        return ctx.guard.claim(claim, nowMs);
      },
    };
    decide(c.detections, { ...ctx, guard: recording });
    const targets = new Set(listed.map((l) => l.revocationId));
    for (const claim of asked) expect(targets).toContain(claim.revocationId);
    expect(targets.size).toBe(listed.length);
  });

  it('a claim held in one batch does not block its winner decided after it (concurrent batches)', () => {
    // Batch B's detection of f1 lost to batch A's in the log, but B is decided first.
    const d1 = family('f1');
    const d2 = family('f1', { trigger_event_id: 'e-f1-second', detector: 'device_reuse' });
    const memory = new DecisionMemory();
    const guard = verdicts({
      [d1.detection_id]: { kind: 'allowed' },
      [d2.detection_id]: { kind: 'held', by: d1.detection_id },
    });
    const b = decide([d2], context({ memory, guard }));
    expect(b.detections.map((d) => d.response)).toEqual(['duplicate']);
    const a = decide([d1], context({ memory, guard }));
    expect(a.detections.map((d) => d.response)).toEqual(['revoke']);
    expect(a.start.map((s) => s.row.target_id)).toEqual(['f1']);
  });

  it('two instances on one ledger (the shared guard’s order): exactly the budget is revoked, each target once, one page', () => {
    const ledger = new GuardLedger({ perTenantPerMinute: 7, totalPerMinute: 1000 });
    const instances = [new DecisionMemory(), new DecisionMemory()];
    /** What an instance does with a batch: its claims judged in the log's order, then the decision. */
    const onInstance = (n: number, detections: Detection[], nowMs: number) => {
      const ctx = context({ memory: instances[n]!, nowMs });
      const claims = claimsFor(detections, ctx);
      const verdicts = new Map<string, ClaimVerdict>();
      for (const c of claims) {
        // a target its replica already knows held by another detection is held without a claim
        const holder = ledger.holder(c.revocationId);
        verdicts.set(
          c.detectionId,
          holder !== undefined && holder !== c.detectionId
            ? { kind: 'held', by: holder }
            : ledger.apply(c, nowMs),
        );
      }
      return decide(detections, { ...ctx, guard: verdictsGuard(verdicts, claims) });
    };
    const all: ReturnType<typeof decide>[] = [];
    for (let i = 0; i < 100; i++) {
      // a flood spread over both, and every fifth family found by both
      all.push(onInstance(i % 2, [family(`flood-${i}`)], NOW + i));
      if (i % 5 === 0)
        all.push(
          onInstance(1 - (i % 2), [family(`flood-${i}`, { trigger_event_id: `other-${i}` })], NOW + i),
        );
    }
    const decisions = all.flatMap((o) => o.detections.map((d) => d.response));
    expect(decisions.filter((x) => x === 'revoke')).toHaveLength(7);
    // flood-0 and flood-5, found by both before the budget ran out: the second finding of each is a duplicate
    expect(decisions.filter((x) => x === 'duplicate')).toHaveLength(2);
    expect(decisions.filter((x) => x === 'suppressed')).toHaveLength(120 - 7 - 2);
    const started = all.flatMap((o) => o.start.map((s) => s.row.target_id));
    expect(new Set(started).size).toBe(started.length);
    expect(all.flatMap((o) => o.alerts).filter((a) => a.kind === 'guard_tripped')).toHaveLength(1);
  });

  it('two instances racing for one target (both claims in the log before either is read): one revokes, the other is a duplicate', () => {
    const ledger = new GuardLedger({ perTenantPerMinute: 30, totalPerMinute: 100 });
    const a = family('f1');
    const b = family('f1', { trigger_event_id: 'e-f1-on-b' });
    const claimA = claimsFor([a], context())[0]!;
    const claimB = claimsFor([b], context())[0]!;
    const verdicts = new Map([
      [a.detection_id, ledger.apply(claimA, NOW)],
      [b.detection_id, ledger.apply(claimB, NOW)],
    ]);
    const onA = decide([a], context({ guard: verdictsGuard(verdicts) }));
    const onB = decide([b], context({ guard: verdictsGuard(verdicts) }));
    expect([...onA.detections, ...onB.detections].map((d) => d.response)).toEqual(['revoke', 'duplicate']);
    expect(onB.rows).toEqual([]);
  });

  it('counts each detection once, and reports the guard trip for the metrics and the log', () => {
    const ctx = context({ guard: new GuardLedger({ perTenantPerMinute: 1, totalPerMinute: 100 }) });
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

describe('decide: device evidence and TOKENWATCH_POLICY_DEVICE_REVOKE_REQUIRES_STRONG', () => {
  const deviceReuse = (id: string, trust: 'strong' | 'weak') =>
    family(id, {
      detector: 'device_reuse',
      kind: 'family presented from more than one device',
      severity: 'high',
      evidence: { events: [AUTH_SERVER_REFRESH], devices: ['laptop', 'phone'], device_trust: trust },
    });
  const strongOnly: ResponsePolicy = Object.fromEntries(
    Object.entries(DEFAULT_POLICY).map(([name, p]) => [name, { ...p, requireStrongDevice: true }]),
  );

  it('off (the default): weak and strong device evidence revoke alike', () => {
    const out = decide([deviceReuse('f-weak', 'weak'), deviceReuse('f-strong', 'strong')], context());
    expect(out.detections.map((d) => d.response)).toEqual(['revoke', 'revoke']);
  });

  it('on: weak device evidence alerts only, and the alert says why; strong still revokes', () => {
    const weak = deviceReuse('f-weak', 'weak');
    const out = decide([weak, deviceReuse('f-strong', 'strong')], context({ policy: strongOnly }));
    expect(out.detections.map((d) => d.response)).toEqual(['alert_only', 'revoke']);
    expect(out.rows.map((r) => r.target_id)).toEqual(['f-strong']);
    const alert = out.alerts.find((a) => a.fields['detection_id'] === weak.detection_id)!;
    expect(alert.text).toContain('weak device ids');
  });

  it('on: findings without device evidence are not affected', () => {
    expect(decide([family('f-replay')], context({ policy: strongOnly })).detections[0]!.response).toBe(
      'revoke',
    );
  });
});
