/**
 * The guard as the decision asks it (pure, clock passed in): a verdict for each claim — a
 * detection asking to revoke a target — that keeps the blast-radius budget (guard.ts) and revokes
 * each target once. One process keeps a ledger of its own and judges claims as they come; with
 * several instances each keeps a replica of one ledger, fed the same claims in the same order
 * (the guard topic, ../shared-guard/), so each computes the verdict every other would.
 *
 * A claim of detection D for target K at time t (t never goes backwards: later times are clamped):
 *   1. a copy of a claim — its id read less than COPY_MS before (a retried write landed twice) —:
 *      its verdict again, counting nothing (each copy restarts the COPY_MS, so whether a record is
 *      a copy depends only on the last COPY_MS of the log);
 *   2. the budget judges and counts it: past the tenant's or the overall limit it is refused
 *      (suppressed), with the budget's trip and page flags;
 *   3. K held by another detection: held (the decision says duplicate; its slot stays counted);
 *   4. else allowed, and K is held by D (D's own claim again — a redelivered detection decided
 *      afresh elsewhere — is allowed again if the budget lets it: the same revocation, counted twice).
 * A release (of a claim whose maker stopped waiting for it and suppressed the finding) frees K for
 * later claims; the budget keeps the slot counted.
 *
 * Whether a claim is refused, and its trip and page flags, depend only on the claims of the last
 * HISTORY_MS (the budget counts what was asked, not what was allowed, and copies are told by their
 * id within COPY_MS): every replica that has read that much of the log before a claim judges it
 * alike, whenever it started — so no two instances can each believe they have the last slot, and
 * no instance revokes past the budget. (A rule that depended on earlier verdicts — counting only
 * what was allowed, or "the same detection gets its first verdict" — would let a replica started
 * later disagree forever.) Which detection holds a target each replica remembers for REMEMBER_MS
 * from what it has read (best effort): of two claims for one target the later is held in every
 * replica that read the earlier, so at most one instance revokes it; a replica started after a
 * target was revoked knows it from the outbox it reads at start, or else revokes it again (with
 * the same Idempotency-Key, which the auth API applies once).
 *
 * The budget's reserves per tenant (guard.ts) keep this: they depend only on the tenant's asks in
 * the window. `room` says, reading only, how many of a tenant's claims would pass now: the stage
 * retries suppressed findings while there is room (retry.ts), so a retry rarely adds a refused ask.
 */
import { BlastRadiusGuard, type GuardLimits, type GuardScope, WINDOW_MS } from './guard.ts';

/** How long a claim's id is remembered, to count a copy of it (a retried write) once. */
export const COPY_MS = 5 * 60_000;
/** What a replica must have read before it judges a claim as every other does. */
export const HISTORY_MS = COPY_MS + 2 * WINDOW_MS;
/** How long a replica remembers which detection holds a target (best effort). */
export const REMEMBER_MS = 30 * 86_400_000;
/** At most this many claim ids are remembered (the oldest go first: alike in every replica). */
const COPIES_CAP = 100_000;
/** At most this many holders are remembered. */
const REMEMBERED_CAP = 1_000_000;

/** A detection asking to revoke a target. */
export interface GuardClaim {
  tenant: string;
  revocationId: string;
  detectionId: string;
}

/** `unavailable`: no verdict could be had (the shared guard's log did not answer in time). */
export type RefusalScope = GuardScope | 'unavailable';

export type ClaimVerdict =
  | { kind: 'allowed' }
  /** another detection's revocation of the target stands (`by`: that detection, '' when unknown) */
  | { kind: 'held'; by: string }
  /** `tripped`: this refusal started a trip of its scope; `page`: it started an episode (page now) */
  | { kind: 'refused'; scope: RefusalScope; limit: number; tripped: boolean; page: boolean };

/** What the decision asks: the verdict on one claim. */
export interface Guard {
  claim(c: GuardClaim, nowMs: number): ClaimVerdict;
}

/** The verdict when none could be had. */
export const UNANSWERED: Extract<ClaimVerdict, { kind: 'refused' }> = {
  kind: 'refused',
  scope: 'unavailable',
  limit: 0,
  tripped: false,
  page: false,
};

/**
 * Refusals for want of a verdict, one instance's own: the first after a whole window without any
 * starts an episode (`tripped` and `page`), like the budget's trips.
 */
export class Unanswered {
  #last = Number.NEGATIVE_INFINITY;

  verdict(nowMs: number): ClaimVerdict {
    const page = this.#last <= nowMs - WINDOW_MS;
    this.#last = Math.max(this.#last, nowMs);
    return { ...UNANSWERED, tripped: page, page };
  }
}

/**
 * Verdicts had beforehand, by detection id, on `claims` (decider.ts claimsFor): a claim not among
 * them gets the verdict on its target's claim (another finding on it in the batch; no new trip or
 * page), or else UNANSWERED.
 */
export function verdictsGuard(
  verdicts: ReadonlyMap<string, ClaimVerdict>,
  claims: readonly GuardClaim[] = [],
): Guard {
  const byTarget = new Map(claims.map((c) => [c.revocationId, c.detectionId]));
  return {
    claim(c) {
      const own = verdicts.get(c.detectionId);
      if (own !== undefined) return own;
      const first = verdicts.get(byTarget.get(c.revocationId) ?? '');
      if (first === undefined) return UNANSWERED;
      return first.kind === 'refused' ? { ...first, tripped: false, page: false } : first;
    },
  };
}

/** A map in time order whose entries expire after `ttlMs`, the oldest going first past `cap`. */
class Expiring<V> {
  readonly #entries = new Map<string, { value: V; at: number }>();
  readonly #ttlMs: number;
  readonly #cap: number;

  constructor(ttlMs: number, cap: number) {
    this.#ttlMs = ttlMs;
    this.#cap = cap;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string, nowMs: number): V | undefined {
    const e = this.#entries.get(key);
    return e !== undefined && e.at > nowMs - this.#ttlMs ? e.value : undefined;
  }

  /** `at` must not be earlier than any before it (the ledger's clock). */
  set(key: string, value: V, at: number) {
    this.#entries.delete(key);
    this.#entries.set(key, { value, at });
    for (const [k, e] of this.#entries) {
      if (e.at > at - this.#ttlMs && this.#entries.size <= this.#cap) break;
      this.#entries.delete(k);
    }
  }

  delete(key: string) {
    this.#entries.delete(key);
  }
}

export class GuardLedger implements Guard {
  /** the limits claims are judged by when they carry none (one process) */
  readonly limits: GuardLimits;
  readonly #budget: BlastRadiusGuard;
  #clock = 0;
  /** claim id → its verdict (rule 1) */
  readonly #copies = new Expiring<ClaimVerdict>(COPY_MS, COPIES_CAP);
  /** revocation id → the detection that holds it (rule 3) */
  readonly #holders = new Expiring<string>(REMEMBER_MS, REMEMBERED_CAP);

  constructor(limits: GuardLimits) {
    this.limits = limits;
    this.#budget = new BlastRadiusGuard(limits);
  }

  /** One process's guard: the claim judged now, by this ledger's limits. */
  claim(c: GuardClaim, nowMs: number): ClaimVerdict {
    return this.apply(c, nowMs, this.limits);
  }

  /**
   * Judges a claim made at `atMs` under `limits` (a shared ledger: those of the claim's maker);
   * `claimId`: the record's id, by which a copy of it is known.
   */
  apply(c: GuardClaim, atMs: number, limits: GuardLimits = this.limits, claimId?: string): ClaimVerdict {
    const t = this.#tick(atMs);
    if (claimId !== undefined) {
      const copied = this.#copies.get(claimId, t);
      if (copied !== undefined) {
        this.#copies.set(claimId, copied, t);
        return copied.kind === 'refused' ? { ...copied, tripped: false, page: false } : copied;
      }
    }
    let verdict: ClaimVerdict;
    const b = this.#budget.allow(c.tenant, t, limits);
    if (!b.allowed) {
      verdict = { kind: 'refused', scope: b.scope, limit: b.limit, tripped: b.tripped, page: b.page };
    } else {
      const holder = this.#holders.get(c.revocationId, t) ?? c.detectionId;
      this.#holders.set(c.revocationId, holder, t);
      verdict = holder === c.detectionId ? { kind: 'allowed' } : { kind: 'held', by: holder };
    }
    if (claimId !== undefined) this.#copies.set(claimId, verdict, t);
    return verdict;
  }

  /**
   * Linked access tokens riding on an allowed revocation: up to `n` admitted, each counted as one
   * (BlastRadiusGuard.admitUpTo). Counted in this process's ledger only — with a shared guard each
   * instance bounds the linked tokens of its own revocations.
   */
  admitLinked(tenant: string, n: number, nowMs: number): number {
    return this.#budget.admitUpTo(tenant, n, this.#tick(nowMs));
  }

  /**
   * How many of a tenant's claims made now would pass the budget (reading only: no verdict depends
   * on when it is read). The stage retries suppressed findings only while there is room.
   */
  room(tenant: string, nowMs: number, limits: GuardLimits = this.limits): number {
    return this.#budget.room(tenant, Math.max(nowMs, this.#clock), limits);
  }

  /** Frees a target its claim took, when the claim's maker gave up on it (the slot stays counted). */
  release(c: Pick<GuardClaim, 'revocationId' | 'detectionId'>, atMs: number) {
    const t = this.#tick(atMs);
    if (this.#holders.get(c.revocationId, t) === c.detectionId) this.#holders.delete(c.revocationId);
  }

  /** The detection known to hold a target, if any (a claim for it would be held). */
  holder(revocationId: string): string | undefined {
    return this.#holders.get(revocationId, this.#clock);
  }

  /** Scopes refused within the last window (for the gauge). */
  tripped(nowMs: number): { tenants: number; total: boolean } {
    return this.#budget.tripped(nowMs);
  }

  /** Times never go backwards: an earlier (or unreadable) time counts as the latest seen. */
  #tick(atMs: number): number {
    if (Number.isFinite(atMs) && atMs > this.#clock) this.#clock = atMs;
    return this.#clock;
  }
}
