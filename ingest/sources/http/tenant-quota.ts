/**
 * Per-tenant budgets of events and bytes per second at the HTTP door: token buckets that refill at
 * the configured rate and hold at most `burstSeconds` of it. A request that does not fit is refused
 * whole (429) with the seconds until it would, and costs nothing.
 *
 * Written here rather than taken from @fastify/rate-limit (which guards requests per key, and is used
 * for that): events and bytes are known only once the body is read and split, and a refused request
 * must not be charged.
 */

export interface QuotaOptions {
  /** refill per second (0: no limit) */
  perSecond: number;
  /** how many seconds of refill the bucket holds (the largest burst) */
  burstSeconds: number;
  /** the bucket holds at least this much: the most one request may carry, so every request can fit */
  minCapacity?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** One bucket per tenant of a configured key (the keys bound how many there are). */
export class TenantQuota {
  readonly #buckets = new Map<string, Bucket>();
  readonly #rate: number;
  readonly #capacity: number;

  constructor(o: QuotaOptions) {
    this.#rate = o.perSecond;
    this.#capacity = Math.max(o.perSecond * o.burstSeconds, o.minCapacity ?? 0);
  }

  get limited(): boolean {
    return this.#rate > 0;
  }

  /** The most one request can ever take. */
  get capacity(): number {
    return this.#capacity;
  }

  /**
   * Takes `amount` from `tenant`'s bucket: 0 when it fit, else the seconds to wait before it would
   * (nothing taken). An amount over the capacity never fits: the wait is then that of a full bucket.
   */
  take(tenant: string, amount: number, nowMs = Date.now()): number {
    const wait = this.wait(tenant, amount, nowMs);
    if (wait === 0 && this.limited && amount > 0) this.#bucket(tenant, nowMs).tokens -= amount;
    return wait;
  }

  /** The seconds until `amount` would fit in `tenant`'s bucket (0: now), taking nothing. */
  wait(tenant: string, amount: number, nowMs = Date.now()): number {
    if (!this.limited || amount <= 0) return 0;
    const b = this.#bucket(tenant, nowMs);
    if (amount <= b.tokens) return 0;
    return Math.max(1, Math.ceil((Math.min(amount, this.#capacity) - b.tokens) / this.#rate));
  }

  /** The tenant's bucket, refilled up to now. */
  #bucket(tenant: string, nowMs: number): Bucket {
    let b = this.#buckets.get(tenant);
    if (b === undefined) {
      b = { tokens: this.#capacity, at: nowMs };
      this.#buckets.set(tenant, b);
    } else if (nowMs > b.at) {
      b.tokens = Math.min(this.#capacity, b.tokens + ((nowMs - b.at) / 1000) * this.#rate);
      b.at = nowMs;
    }
    return b;
  }
}
