/**
 * The simulation's clock. Real: wall time, steps wait for their moment (the demo). Simulated: time
 * jumps to each step as it is dispatched, so a day plays in minutes (the evaluation); the auth
 * server and the verifiers read this clock for token times, expiries and event times. Moments are
 * sampled (simulated ↔ wall) so a simulated time can be placed on the wall clock afterwards.
 */
export class SimClock {
  readonly simulated: boolean;
  readonly startMs: number;
  #nowMs: number;
  readonly #wallStart = Date.now();
  readonly #samples: { sim: number; wall: number }[] = [];

  /** `startMs`: epoch ms of simulated time 0 (real clocks start now). */
  constructor(simulated: boolean, startMs = Date.now()) {
    this.simulated = simulated;
    this.startMs = simulated ? startMs : this.#wallStart;
    this.#nowMs = this.startMs;
  }

  /** epoch ms (bound: pass `clock.now` around) */
  readonly now = (): number => (this.simulated ? this.#nowMs : Date.now());

  /** ms since the simulation's start */
  elapsed(): number {
    return this.now() - this.startMs;
  }

  /** Simulated: moves to `at` (ms since start) unless already past it. Real: waits until then. */
  async reach(at: number): Promise<void> {
    const target = this.startMs + at;
    if (!this.simulated) {
      const wait = target - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      return;
    }
    if (target <= this.#nowMs) return;
    this.#nowMs = target;
    const last = this.#samples.at(-1);
    if (last === undefined || target - last.sim >= 1000)
      this.#samples.push({ sim: target, wall: Date.now() });
  }

  /** When the clock passed `simMs` (epoch ms), on the wall clock (ms); undefined before the first sample. */
  wallTimeOf(simMs: number): number | undefined {
    if (!this.simulated) return simMs;
    const s = this.#samples;
    let lo = 0;
    let hi = s.length - 1;
    if (hi < 0 || simMs < s[0]!.sim) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]!.sim <= simMs) lo = mid;
      else hi = mid - 1;
    }
    return s[lo]!.wall;
  }
}
