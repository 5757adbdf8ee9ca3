/**
 * Suppressed findings get another chance (pure, clock passed in): a revocation the blast-radius
 * guard refused stays queued, and once the budget has room again the stage re-claims it through the
 * same guard (one process's ledger or the shared one) — oldest first, only as many per tenant as
 * the guard's room holds (a refused retry would count as an ask and keep the guard shut), and only
 * within TOKENWATCH_GUARD_RETRY_SUPPRESSED_MS of its decision. Allowed: a new `pending` row
 * (suppressed → pending → done in the outbox), the revocation is started, and on-call is told it
 * was revoked late. Held (another detection's revocation of the target stands) or no longer
 * suppressed (a later finding revoked it): dropped. Refused: stays queued.
 */
import type { Severity } from '../../detectors/types.ts';
import type { Alert } from '../alert.ts';
import type { RevocationRow } from '../revocation.ts';
import type { DecisionMemory, NamedJti } from './decider.ts';
import type { ClaimVerdict, GuardClaim } from './ledger.ts';

/** At most this many suppressed revocations wait (the oldest are dropped first). */
export const SUPPRESSED_CAP = 10_000;
/** At most this many are re-claimed at a time. */
export const RETRY_BATCH = 100;

export interface Suppressed {
  row: RevocationRow;
  named: NamedJti[];
}

export type RetryOutcome = 'revoked' | 'refused' | 'held' | 'expired' | 'dropped';

export class SuppressedQueue {
  /** revocation id → its suppressed decision, in the order they came */
  readonly #byId = new Map<string, Suppressed>();
  readonly #cap: number;

  constructor(cap: number = SUPPRESSED_CAP) {
    this.#cap = cap;
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Queues a suppressed row (its first suppression kept); returns how many were dropped for room. */
  add(row: RevocationRow, named: NamedJti[] = []): number {
    if (row.status !== 'suppressed' || this.#byId.has(row.revocation_id)) return 0;
    this.#byId.set(row.revocation_id, { row, named });
    let dropped = 0;
    while (this.#byId.size > this.#cap) {
      this.#byId.delete(this.#byId.keys().next().value!);
      dropped++;
    }
    return dropped;
  }

  delete(revocationId: string) {
    this.#byId.delete(revocationId);
  }

  /**
   * What to re-claim now, oldest decision first: for each tenant no more than `room(tenant)` (asked
   * once per tenant). Rows past `maxAgeMs` since their decision are dropped (`expired`), as are
   * those whose target is no longer suppressed in `memory` (`settled`: revoked or decided since).
   */
  due(
    memory: DecisionMemory,
    nowMs: number,
    maxAgeMs: number,
    room: (tenant: string) => number,
    max: number = RETRY_BATCH,
  ): { due: Suppressed[]; expired: Suppressed[]; settled: number } {
    const expired: Suppressed[] = [];
    let settled = 0;
    const waiting: Suppressed[] = [];
    for (const [id, s] of this.#byId) {
      if (memory.targets.get(id) !== 'suppressed') {
        this.#byId.delete(id);
        settled++;
      } else if (s.row.decided_ms <= nowMs - maxAgeMs) {
        this.#byId.delete(id);
        expired.push(s);
      } else waiting.push(s);
    }
    waiting.sort((a, b) => a.row.decided_ms - b.row.decided_ms);
    const left = new Map<string, number>();
    const due: Suppressed[] = [];
    for (const s of waiting) {
      if (due.length >= max) break;
      const t = s.row.tenant;
      const n = left.get(t) ?? room(t);
      if (n <= 0) {
        left.set(t, 0);
        continue;
      }
      left.set(t, n - 1);
      due.push(s);
    }
    return { due, expired, settled };
  }
}

/** The guard claims of the due retries (each by the detection that was suppressed). */
export const retryClaims = (due: readonly Suppressed[]): GuardClaim[] =>
  due.map((s) => ({
    tenant: s.row.tenant,
    revocationId: s.row.revocation_id,
    detectionId: s.row.detection_id,
  }));

export interface Retried {
  /** new outbox rows (pending): store them before starting */
  rows: RevocationRow[];
  start: { row: RevocationRow; named: NamedJti[] }[];
  alerts: Alert[];
  outcomes: { tenant: string; revocationId: string; outcome: RetryOutcome }[];
}

/**
 * The retries' decisions given their verdicts (by detection id; none: refused). Updates `memory`
 * (the target pending, the detection's decision `revoke`, as a restart would read it back).
 */
export function retryDecisions(
  due: readonly Suppressed[],
  verdicts: ReadonlyMap<string, ClaimVerdict>,
  memory: DecisionMemory,
  nowMs: number,
): Retried {
  const out: Retried = { rows: [], start: [], alerts: [], outcomes: [] };
  for (const s of due) {
    const { row } = s;
    const v = verdicts.get(row.detection_id);
    const outcome: RetryOutcome = v?.kind === 'allowed' ? 'revoked' : v?.kind === 'held' ? 'held' : 'refused';
    out.outcomes.push({ tenant: row.tenant, revocationId: row.revocation_id, outcome });
    if (outcome !== 'revoked') continue;
    const pending: RevocationRow = {
      ...row,
      status: 'pending',
      attempt: 0,
      http_status: 0,
      latency_ms: 0,
      error: `retried: suppressed by the blast-radius guard at ${new Date(row.decided_ms).toISOString()}, room again`,
      time_ms: nowMs,
    };
    memory.targets.set(row.revocation_id, 'pending');
    memory.remember(row.detection_id, 'revoke', row.revocation_id);
    out.rows.push(pending);
    out.start.push({ row: pending, named: s.named });
    out.alerts.push(lateRevocationAlert(row, nowMs));
  }
  return out;
}

/** On-call is told a suppressed finding's target is now being revoked, late. */
export function lateRevocationAlert(row: RevocationRow, nowMs: number): Alert {
  const lateS = Math.max(0, Math.round((nowMs - row.decided_ms) / 1000));
  return {
    kind: 'detection',
    group_key: `${row.tenant}:${row.subject}`,
    tenant: row.tenant,
    subject: row.subject,
    detector: row.detector,
    severity: row.severity as Severity,
    title: `Revoked late — ${row.subject}: ${row.reason}; revoking ${row.target_kind} ${row.target_id} ${lateS} s after the blast-radius guard held it back`,
    text:
      `The finding was suppressed (alert only) when the guard's budget was spent; the budget has room ` +
      `again, so its ${row.target_kind} ${row.target_id} is being revoked now, ${lateS} s after the decision.`,
    fields: {
      detection_id: row.detection_id,
      detector: row.detector,
      response: 'revoke',
      revoked_late: true,
      late_s: lateS,
      revocation_id: row.revocation_id,
      target: row.target_kind,
      target_id: row.target_id,
    },
    time_ms: nowMs,
  };
}
