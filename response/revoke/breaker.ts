/**
 * Circuit breaker for the auth API (clock passed in). After `failureThreshold` failures in a row
 * it opens: calls wait instead of piling onto a server that is down. After `cooldownMs` one call
 * is let through (half-open); its success closes the breaker, its failure opens it again.
 */

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
}

export class CircuitBreaker {
  readonly options: BreakerOptions;
  #failures = 0;
  #openedAtMs = -1;
  #probing = false;

  constructor(options: BreakerOptions) {
    this.options = options;
  }

  state(nowMs: number): BreakerState {
    if (this.#openedAtMs < 0) return 'closed';
    return nowMs - this.#openedAtMs >= this.options.cooldownMs ? 'half_open' : 'open';
  }

  /** 0 when a call may go now (and, half-open, claims the one probe); otherwise ms to wait. */
  acquire(nowMs: number): number {
    const s = this.state(nowMs);
    if (s === 'closed') return 0;
    if (s === 'half_open' && !this.#probing) {
      this.#probing = true;
      return 0;
    }
    // open, or half-open with the probe already out: look again when the probe may have finished
    return s === 'open' ? this.#openedAtMs + this.options.cooldownMs - nowMs : this.options.cooldownMs;
  }

  success() {
    this.#failures = 0;
    this.#openedAtMs = -1;
    this.#probing = false;
  }

  failure(nowMs: number) {
    this.#failures++;
    if (this.#probing || this.#failures >= this.options.failureThreshold) this.#openedAtMs = nowMs;
    this.#probing = false;
  }
}
