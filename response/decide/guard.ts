/**
 * Blast-radius guard (pure, clock passed in): at most `perTenant` revocations per tenant and
 * `total` overall in any sliding minute. Past either, a revocation is refused (the detection
 * becomes alert-only) and the scope is "tripped" until a whole window passes without a refusal in
 * it (`tripped: true` on the refusal that trips it, for the metrics). On-call is paged once per
 * episode (`page: true`): on the first refusal after a whole window without any refusal at all,
 * however many tenants and scopes trip during it.
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

const WINDOW_MS = 60_000;

/** Times of allowed revocations in the last window (oldest first). */
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

  /** Counts the revocation when allowed; `count`: revocations it stands for (a family's linked access tokens). */
  allow(tenant: string, nowMs: number, count = 1): GuardVerdict {
    let perTenant = this.#tenants.get(tenant);
    if (perTenant === undefined) {
      perTenant = new SlidingCount();
      this.#tenants.set(tenant, perTenant);
    }
    if (perTenant.count(nowMs) + count > this.limits.perTenantPerMinute)
      return this.#refuse('tenant', `tenant:${tenant}`, this.limits.perTenantPerMinute, nowMs);
    if (this.#total.count(nowMs) + count > this.limits.totalPerMinute)
      return this.#refuse('total', 'total', this.limits.totalPerMinute, nowMs);
    for (let i = 0; i < count; i++) {
      perTenant.add(nowMs);
      this.#total.add(nowMs);
    }
    return { allowed: true };
  }

  /** Scopes refused within the last window (for the gauge). */
  tripped(nowMs: number): { tenants: number; total: boolean } {
    let tenants = 0;
    let total = false;
    for (const [key, at] of this.#lastRefusal) {
      if (at <= nowMs - WINDOW_MS) {
        this.#lastRefusal.delete(key);
        continue;
      }
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
