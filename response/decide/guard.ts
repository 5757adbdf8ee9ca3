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
 *
 * Reserves: a tenant's first `reservedPerTenant` asks in the window are never refused by the total
 * limit and are not counted in it (the total caps only what goes beyond the reserves). So tenants
 * whose floods fill the total — real or framed — leave every other tenant its reserve: one tenant
 * cannot exhaust the budget for another. The most revoked in a window is then `total` plus each
 * active tenant's reserve (tenants are operator-made: an API key's or Kafka topic's tenant). This
 * too depends only on the asks of the window, so replicas still agree.
 *
 * The window (`windowMs`, at most WINDOW_MS) is a minute; shorter only for drills and tests.
 */

export interface GuardLimits {
  perTenantPerMinute: number;
  totalPerMinute: number;
  /** a tenant's first asks in a window that the total limit never refuses (0 when absent) */
  reservedPerTenant?: number;
  /** the sliding window, ms (WINDOW_MS when absent; at most WINDOW_MS) */
  windowMs?: number;
}

/** The window limits are judged over: WINDOW_MS unless a shorter one is given. */
export function windowOf(limits: GuardLimits): number {
  const w = limits.windowMs;
  return w !== undefined && Number.isFinite(w) && w > 0 && w < WINDOW_MS ? Math.floor(w) : WINDOW_MS;
}

export type GuardScope = 'tenant' | 'total';

export type GuardVerdict =
  | { allowed: true }
  /** `tripped`: this refusal started a trip of its scope; `page`: it started an episode (page now) */
  | { allowed: false; scope: GuardScope; limit: number; tripped: boolean; page: boolean };

/** The sliding window of the limits (the longest one: what a verdict may depend on). */
export const WINDOW_MS = 60_000;

/** Times of the revocations asked for in the last WINDOW_MS (oldest first). */
class SlidingCount {
  readonly #times: number[] = [];
  #head = 0;

  /** How many were asked in the `windowMs` before `nowMs` (forgetting what is past WINDOW_MS). */
  count(nowMs: number, windowMs: number = WINDOW_MS): number {
    while (this.#head < this.#times.length && this.#times[this.#head]! <= nowMs - WINDOW_MS) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#times.length) {
      this.#times.splice(0, this.#head);
      this.#head = 0;
    }
    return this.peek(nowMs, windowMs);
  }

  /** The same count, reading only (binary search: the times are in order). */
  peek(nowMs: number, windowMs: number = WINDOW_MS): number {
    const cutoff = nowMs - windowMs;
    let lo = this.#head;
    let hi = this.#times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#times[mid]! <= cutoff) lo = mid + 1;
      else hi = mid;
    }
    return this.#times.length - lo;
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
    const w = windowOf(limits);
    const perTenant = this.#tenant(tenant);
    const askedByTenant = perTenant.count(nowMs, w);
    perTenant.add(nowMs);
    if (askedByTenant >= limits.perTenantPerMinute)
      return this.#refuse('tenant', `tenant:${tenant}`, limits.perTenantPerMinute, nowMs, w);
    // within the tenant's reserve: neither judged nor counted by the total
    if (askedByTenant < (limits.reservedPerTenant ?? 0)) return { allowed: true };
    const asked = this.#total.count(nowMs, w);
    this.#total.add(nowMs);
    if (asked >= limits.totalPerMinute)
      return this.#refuse('total', 'total', limits.totalPerMinute, nowMs, w);
    return { allowed: true };
  }

  /**
   * How many of a tenant's revocations asked now would be allowed (reading only: the verdicts
   * must not depend on when it is read). What the retry of suppressed findings waits for.
   */
  room(tenant: string, nowMs: number, limits: GuardLimits = this.limits): number {
    const w = windowOf(limits);
    const asked = this.#tenants.get(tenant)?.peek(nowMs, w) ?? 0;
    const byTenant = limits.perTenantPerMinute - asked;
    const reserve = Math.max(0, (limits.reservedPerTenant ?? 0) - asked);
    const byTotal = reserve + Math.max(0, limits.totalPerMinute - this.#total.peek(nowMs, w));
    return Math.max(0, Math.min(byTenant, byTotal));
  }

  /**
   * Admits up to `n` revocations that ride on one already allowed (a family's linked access
   * tokens), each counted as one, as many as the tenant's room now holds (its reserve, then the
   * total's). Returns how many; what does not fit is not asked for (it would keep the guard shut
   * for real findings).
   */
  admitUpTo(tenant: string, n: number, nowMs: number): number {
    const w = windowOf(this.limits);
    const perTenant = this.#tenant(tenant);
    let admitted = 0;
    for (; admitted < n; admitted++) {
      const asked = perTenant.count(nowMs, w);
      if (asked >= this.limits.perTenantPerMinute) break;
      if (asked >= (this.limits.reservedPerTenant ?? 0)) {
        if (this.#total.count(nowMs, w) >= this.limits.totalPerMinute) break;
        this.#total.add(nowMs);
      }
      perTenant.add(nowMs);
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
    const w = windowOf(this.limits);
    let tenants = 0;
    let total = false;
    for (const [key, at] of this.#lastRefusal) {
      if (at <= nowMs - w) continue;
      if (key === 'total') total = true;
      else tenants++;
    }
    return { tenants, total };
  }

  #refuse(scope: GuardScope, key: string, limit: number, nowMs: number, w: number): GuardVerdict {
    const last = this.#lastRefusal.get(key);
    const tripped = last === undefined || last <= nowMs - w;
    const page = this.#lastAnyRefusal <= nowMs - w;
    this.#lastRefusal.set(key, nowMs);
    this.#lastAnyRefusal = nowMs;
    return { allowed: false, scope, limit, tripped, page };
  }
}
