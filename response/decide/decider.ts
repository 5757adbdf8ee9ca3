/**
 * The response decision, pure: detections + the policy + the blast-radius guard + what was decided
 * before → each detection with its decision, the outbox rows to store, the revocations to start
 * (with the access tokens their detections name) and the alerts to send. No I/O and no clock but
 * `nowMs`; the memory and the guard it is handed are updated in place (the stage owns them). The
 * stage around it stores the rows, starts the revocations and sends the alerts — in that order, so a
 * crash at any point repeats the decision for the same detection, which comes out the same.
 */

import type { RevocationTarget } from '../../contract/revocation-api-v1.ts';
import type { Detection, ResponseDecision } from '../../detectors/detection.ts';
import type { Alert } from '../alert.ts';
import { FINAL_STATUSES, OPEN_STATUSES, type RevocationRow, type RevocationStatus } from '../revocation.ts';
import { detectionAlert, guardAlert } from './alerts.ts';
import type { BlastRadiusGuard, GuardScope } from './guard.ts';
import { intentOf, type ResponsePolicy, revocationId } from './policy.ts';

/** Detections remembered to answer a redelivered one with its first decision (and alert it once). */
export const DECIDED_DETECTIONS = 100_000;

/** An access token named by a detection, to deny until when. */
export interface NamedJti {
  jti: string;
  expires_ms: number;
}

/** What the decision remembers between calls (rebuilt from the outbox at start). */
export class DecisionMemory {
  /** revocation id of a target → its latest status */
  readonly targets = new Map<string, RevocationStatus>();
  /** detection id → its first decision and revocation */
  readonly decided = new Map<string, { decision: ResponseDecision; revocationId: string }>();
  /** detections alerted on already */
  readonly alerted = new Set<string>();

  remember(detectionId: string, decision: ResponseDecision, revocationId: string) {
    if (this.decided.size >= DECIDED_DETECTIONS) this.decided.delete(this.decided.keys().next().value!);
    this.decided.set(detectionId, { decision, revocationId });
  }

  /** Whether to alert on it now (the first time only). */
  firstAlert(detectionId: string): boolean {
    if (this.alerted.has(detectionId)) return false;
    if (this.alerted.size >= DECIDED_DETECTIONS) this.alerted.delete(this.alerted.values().next().value!);
    this.alerted.add(detectionId);
    return true;
  }

  /** Takes in an outbox row read at start (the latest of its target). */
  restore(row: RevocationRow) {
    this.targets.set(row.revocation_id, row.status);
    this.remember(row.detection_id, DECISION_OF[row.status], row.revocation_id);
  }
}

/** The decision a detection got, by the status its revocation was recorded with. */
export const DECISION_OF: Record<RevocationStatus, ResponseDecision> = {
  pending: 'revoke',
  retrying: 'revoke',
  done: 'revoke',
  not_found: 'revoke',
  failed: 'revoke',
  denylist_only: 'revoke',
  dry_run: 'dry_run',
  suppressed: 'suppressed',
};

export interface DecisionContext {
  policy: ResponsePolicy;
  guard: BlastRadiusGuard;
  memory: DecisionMemory;
  nowMs: number;
  /** false without an auth API: every revocation is recorded as dry_run */
  canRevoke: boolean;
  /** until when a revocation of `target` stays in force (denylist expiry) */
  expiresMs(d: Detection, target: RevocationTarget): number;
  /** this service's public base URL, for alert links ('' = none) */
  publicUrl: string;
}

/** A guard refusal, for the stage's metrics and log. */
export interface GuardRefusal {
  scope: GuardScope;
  tenant: string;
  limit: number;
  /** this refusal started a trip of its scope */
  tripped: boolean;
}

export interface Decisions {
  /** the detections, each with its decision and revocation id */
  detections: Detection[];
  /** new outbox rows: store them before anything else */
  rows: RevocationRow[];
  /** revocations to start (status pending), with the access tokens their detections name */
  start: { row: RevocationRow; named: NamedJti[] }[];
  alerts: Alert[];
  /** what was decided the first time, per detection (metrics) */
  counted: { detector: string; decision: ResponseDecision }[];
  refusals: GuardRefusal[];
}

export function decide(detections: readonly Detection[], c: DecisionContext): Decisions {
  const rows: RevocationRow[] = [];
  const alerts: Alert[] = [];
  const counted: Decisions['counted'] = [];
  const refusals: GuardRefusal[] = [];
  const out = detections.map((d): Detection => {
    const intent = intentOf(d, c.policy);
    const again = c.memory.decided.get(d.detection_id);
    let decision: ResponseDecision;
    let id = '';
    if (again !== undefined) {
      // The same detection again (a redelivered event): the first decision stands.
      ({ decision, revocationId: id } = again);
    } else if (!intent.revoke) {
      decision = 'alert_only';
    } else {
      id = revocationId(intent.ref);
      const before = c.memory.targets.get(id);
      if (before !== undefined && (OPEN_STATUSES.has(before) || FINAL_STATUSES.has(before))) {
        decision = 'duplicate';
      } else {
        let status: RevocationStatus;
        if (intent.dryRun || !c.canRevoke) {
          status = 'dry_run';
        } else {
          const verdict = c.guard.allow(d.tenant, c.nowMs);
          if (verdict.allowed) status = 'pending';
          else {
            status = 'suppressed';
            refusals.push({
              scope: verdict.scope,
              tenant: d.tenant,
              limit: verdict.limit,
              tripped: verdict.tripped,
            });
            if (verdict.page) alerts.push(guardAlert(verdict.scope, d.tenant, verdict.limit, c.nowMs));
          }
        }
        decision = DECISION_OF[status];
        c.memory.targets.set(id, status);
        rows.push({
          revocation_id: id,
          tenant: d.tenant,
          subject: d.subject,
          target_kind: intent.ref.target,
          target_id: intent.ref.id,
          status,
          attempt: 0,
          http_status: 0,
          latency_ms: 0,
          error: status === 'dry_run' && !c.canRevoke ? 'no auth API configured' : '',
          detection_id: d.detection_id,
          detector: d.detector,
          severity: d.severity,
          reason: `${d.detector}: ${d.kind}`,
          expires_ms: c.expiresMs(d, intent.ref.target),
          detected_ms: d.detected_ms,
          decided_ms: c.nowMs,
          time_ms: c.nowMs,
        });
      }
    }
    if (again === undefined) {
      c.memory.remember(d.detection_id, decision, id);
      counted.push({ detector: d.detector, decision });
    }
    const result = { ...d, response: decision, revocation_id: id };
    if (c.memory.firstAlert(d.detection_id)) alerts.push(detectionAlert(result, intent, c.publicUrl));
    return result;
  });

  // The access tokens the detections about each started target name (the misuse's own among them).
  const start = rows
    .filter((row) => row.status === 'pending')
    .map((row) => {
      const linkable = row.target_kind === 'family' || row.target_kind === 'session';
      const named = out
        .filter((d) => linkable && d.revocation_id === row.revocation_id && d.jti !== '')
        .map((d) => ({ jti: d.jti, expires_ms: c.expiresMs(d, 'jti') }));
      return { row, named };
    });
  return { detections: out, rows, start, alerts, counted, refusals };
}
