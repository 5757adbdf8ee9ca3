/**
 * Blast-radius guard's budget (pure, clock passed in): at most `perTenant` revocations per tenant
 * and `total` overall in any sliding minute. A revocation is allowed only while fewer than
 * `perTenant` of its tenant's revocations were asked for in the minute before it — allowed or not —
 * and fewer than `total` that passed their tenant's limit; past either it is refused (the detection
 * becomes alert-only). So a flood keeps the guard shut until it ebbs below the limit, rather than
 * letting the limit through again each minute while it lasts; and a verdict depends only on what
 * was asked in the two minutes before it, not on every verdict since the start — which is what lets
 * instances that started at different times judge alike (ledger.ts). At most the limit is allowed
 * in any minute: the last one allowed saw all the others in its minute.
 *
 * A refused scope is "tripped" until a whole window passes without a refusal in it (`tripped: true`
 * on the refusal that trips it, for the metrics). On-call is paged once per episode (`page: true`):
 * on the first refusal after a whole window without any refusal at all, however many tenants and
 * scopes trip during it. The times must not go backwards (callers clamp).
 */

export interface GuardLimits {
  perTenantPerMinute: number;
  totalPerMinute: number;
}

export type GuardScope = 'tenant' | 'total';

export type GuardVerdict =
  | { allowed: true }
  /** `tripped`: this refusal started a trip of its scope; `page`: it started an episode (page now) */
  | { allowed: false; scope: GuardScope; limit: number; tripped: boolean; page: boolean };

/** The sliding window of the limits. */
export const WINDOW_MS = 60_000;

/** Times of the revocations asked for in the last window (oldest first). */
class SlidingCount {
  readonly #times: number[] = [];
  #head = 0;

  count(nowMs: number): number {
    while (this.#head < this.#times.length && this.#times[this.#head]! <= nowMs - WINDOW_MS) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#times.length) {
      this.#times.splice(0, this.#head);
      this.#head = 0;
    }
    return this.#times.length - this.#head;
  }

  add(nowMs: number) {
    this.#times.push(nowMs);
  }
}

export class BlastRadiusGuard {
  readonly limits: GuardLimits;
  readonly #total = new SlidingCount();
  readonly #tenants = new Map<string, SlidingCount>();
  /** scope key ('total' or 'tenant:<t>') → time of its last refusal */
  readonly #lastRefusal = new Map<string, number>();
  #lastAnyRefusal = Number.NEGATIVE_INFINITY;

  constructor(limits: GuardLimits) {
    this.limits = limits;
  }

  /**
   * Judges a revocation asked for now, and counts it: in its tenant's window always, in the
   * overall window when it passed its tenant's limit. `limits`: the ones to judge it by (a shared
   * guard judges each claim by the limits of the instance that made it, so every replica agrees).
   */
  allow(tenant: string, nowMs: number, limits: GuardLimits = this.limits): GuardVerdict {
    const perTenant = this.#tenant(tenant);
    const askedByTenant = perTenant.count(nowMs);
    perTenant.add(nowMs);
    if (askedByTenant >= limits.perTenantPerMinute)
      return this.#refuse('tenant', `tenant:${tenant}`, limits.perTenantPerMinute, nowMs);
    const asked = this.#total.count(nowMs);
    this.#total.add(nowMs);
    if (asked >= limits.totalPerMinute) return this.#refuse('total', 'total', limits.totalPerMinute, nowMs);
    return { allowed: true };
  }

  /**
   * Admits up to `n` revocations that ride on one already allowed (a family's linked access
   * tokens), each counted as one, as many as the tenant's and the total's room now holds. Returns
   * how many; what does not fit is not asked for (it would keep the guard shut for real findings).
   */
  admitUpTo(tenant: string, n: number, nowMs: number): number {
    const perTenant = this.#tenant(tenant);
    const room = Math.min(
      this.limits.perTenantPerMinute - perTenant.count(nowMs),
      this.limits.totalPerMinute - this.#total.count(nowMs),
    );
    const admitted = Math.max(0, Math.min(n, room));
    for (let i = 0; i < admitted; i++) {
      perTenant.add(nowMs);
      this.#total.add(nowMs);
    }
    return admitted;
  }

  #tenant(tenant: string): SlidingCount {
    let perTenant = this.#tenants.get(tenant);
    if (perTenant === undefined) {
      perTenant = new SlidingCount();
      this.#tenants.set(tenant, perTenant);
    }
    return perTenant;
  }

  /**
   * Scopes refused within the last window (for the gauge). Reads only: the verdicts must not
   * depend on when the gauge is read (replicas of a shared guard read it at their own times).
   */
  tripped(nowMs: number): { tenants: number; total: boolean } {
    let tenants = 0;
    let total = false;
    for (const [key, at] of this.#lastRefusal) {
      if (at <= nowMs - WINDOW_MS) continue;
      if (key === 'total') total = true;
      else tenants++;
    }
    return { tenants, total };
  }

  #refuse(scope: GuardScope, key: string, limit: number, nowMs: number): GuardVerdict {
    const last = this.#lastRefusal.get(key);
    const tripped = last === undefined || last <= nowMs - WINDOW_MS;
    const page = this.#lastAnyRefusal <= nowMs - WINDOW_MS;
    this.#lastRefusal.set(key, nowMs);
    this.#lastAnyRefusal = nowMs;
    return { allowed: false, scope, limit, tripped, page };
  }
}
