/**
 * The response decision, pure: detections + the policy + corroboration (who reported the evidence:
 * corroboration.ts) + the blast-radius guard + what was decided before → each detection with its decision, the outbox rows to store, the revocations to start
 * (with the access tokens their detections name) and the alerts to send. No I/O and no clock but
 * `nowMs`; the memory and the guard it is handed are updated in place (the stage owns them). The
 * stage around it stores the rows, starts the revocations and sends the alerts — in that order, so a
 * crash at any point repeats the decision for the same detection, which comes out the same.
 *
 * The guard is asked once per revocation that would start (`Guard.claim`): allowed, held (another
 * detection's revocation of the target stands: duplicate) or refused (suppressed). With one process
 * it is a ledger of its own (ledger.ts); with several, one ledger shared through Kafka. Either
 * way the stage first gets the verdicts on the claims `claimsFor` lists and hands them in
 * (verdictsGuard): the I/O is around the decision, never in it.
 */

import type { RevocationTarget } from '../../contract/revocation-api-v1.ts';
import type { Detection, ResponseDecision } from '../../detectors/detection.ts';
import type { Alert } from '../alert.ts';
import { FINAL_STATUSES, OPEN_STATUSES, type RevocationRow, type RevocationStatus } from '../revocation.ts';
import { detectionAlert, guardAlert, guardUnavailableAlert } from './alerts.ts';
import { corroborate } from './corroboration.ts';
import type { Guard, GuardClaim, RefusalScope } from './ledger.ts';
import { intentOf, type ResponsePolicy, type RevocationTargetRef, revocationId } from './policy.ts';

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
  guard: Guard;
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
  scope: RefusalScope;
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

/** Why a suppressed row was suppressed (its `error` column). */
function refusalText(scope: RefusalScope, limit: number): string {
  if (scope === 'unavailable') return 'blast-radius guard: no verdict (the shared guard did not answer)';
  return `blast-radius guard: ${scope === 'tenant' ? 'tenant' : 'overall'} limit of ${limit}/min`;
}

/**
 * The claims to put to the guard for these detections, in order, one per target: the first
 * detection not decided before whose policy revokes (not in dry run, an auth API configured) a
 * target not revoked or being revoked already. `decide` asks about no other target; a later
 * detection of a listed target gets that claim's verdict (verdictsGuard), so three findings on one
 * family cost the budget one slot. Pure; the stage gets their verdicts before deciding.
 */
/**
 * What the policy asks for `d`, once its evidence is weighed: one verifier's word alone, or a
 * presence that proves no theft now, is alert only — and claims no slot of the guard's budget.
 */
function corroboratedIntent(d: Detection, policy: ResponsePolicy): ReturnType<typeof intentOf> {
  const intent = intentOf(d, policy);
  if (!intent.revoke) return intent;
  const corroborated = corroborate(d, intent.ref.target);
  return corroborated.revoke ? intent : { revoke: false, why: corroborated.why };
}

export function claimsFor(
  detections: readonly Detection[],
  c: Omit<DecisionContext, 'guard' | 'nowMs'>,
): GuardClaim[] {
  const claims = new Map<string, GuardClaim>();
  for (const d of detections) {
    if (c.memory.decided.has(d.detection_id)) continue;
    const intent = corroboratedIntent(d, c.policy);
    if (!intent.revoke || intent.dryRun || !c.canRevoke) continue;
    const id = revocationId(intent.ref);
    const before = c.memory.targets.get(id);
    if (before !== undefined && (OPEN_STATUSES.has(before) || FINAL_STATUSES.has(before))) continue;
    if (!claims.has(id)) claims.set(id, { tenant: d.tenant, revocationId: id, detectionId: d.detection_id });
  }
  return [...claims.values()];
}

export function decide(detections: readonly Detection[], c: DecisionContext): Decisions {
  const rows: RevocationRow[] = [];
  const alerts: Alert[] = [];
  const counted: Decisions['counted'] = [];
  const refusals: GuardRefusal[] = [];
  const out = detections.map((d): Detection => {
    const intent = corroboratedIntent(d, c.policy);
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
        let status: RevocationStatus | undefined;
        let error = '';
        if (intent.dryRun || !c.canRevoke) {
          status = 'dry_run';
          if (!c.canRevoke) error = 'no auth API configured';
        } else {
          const claim = { tenant: d.tenant, revocationId: id, detectionId: d.detection_id };
          const verdict = c.guard.claim(claim, c.nowMs);
          if (verdict.kind === 'allowed') status = 'pending';
          else if (verdict.kind === 'refused') {
            status = 'suppressed';
            error = refusalText(verdict.scope, verdict.limit);
            refusals.push({
              scope: verdict.scope,
              tenant: d.tenant,
              limit: verdict.limit,
              tripped: verdict.tripped,
            });
            if (verdict.page)
              alerts.push(
                verdict.scope === 'unavailable'
                  ? guardUnavailableAlert(d.tenant, c.nowMs)
                  : guardAlert(verdict.scope, d.tenant, verdict.limit, c.nowMs),
              );
          }
          // held: another detection's revocation of the target stands (decided elsewhere, perhaps
          // by another instance). Not remembered as this target's status: the claim that took it
          // may be decided after this one, by this process (a concurrent batch).
        }
        if (status === undefined) {
          decision = 'duplicate';
        } else {
          decision = DECISION_OF[status];
          c.memory.targets.set(id, status);
          rows.push(outboxRow(d, intent.ref, id, status, error, c));
        }
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

/** The first outbox row of a decided revocation. */
function outboxRow(
  d: Detection,
  ref: RevocationTargetRef,
  id: string,
  status: RevocationStatus,
  error: string,
  c: DecisionContext,
): RevocationRow {
  return {
    revocation_id: id,
    tenant: d.tenant,
    subject: d.subject,
    target_kind: ref.target,
    target_id: ref.id,
    status,
    attempt: 0,
    http_status: 0,
    latency_ms: 0,
    error,
    detection_id: d.detection_id,
    detector: d.detector,
    severity: d.severity,
    reason: `${d.detector}: ${d.kind}`,
    expires_ms: c.expiresMs(d, ref.target),
    detected_ms: d.detected_ms,
    decided_ms: c.nowMs,
    time_ms: c.nowMs,
  };
}
