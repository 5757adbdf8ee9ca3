/**
 * Whether a step of bench:capacity was sustained — misuse → finding p99 within the goal with every
 * probe found, the consumer lag not growing, the offered load reached — and the capacity of a run.
 */

export interface StepFigures {
  targetRate: number;
  achievedRate: number;
  probes: number;
  /** probes whose finding arrived */
  found: number;
  p99: number;
  /** mean lag (events) over the first and the last third of the step's samples */
  lagStart: number;
  lagEnd: number;
}

/** The mean lag of the first and the last third of `lags` (at least one sample each). */
export function lagThirds(lags: number[]): { lagStart: number; lagEnd: number } {
  if (lags.length === 0) throw new Error('lagThirds: no lag samples (the step was shorter than a second?)');
  const third = Math.max(1, Math.floor(lags.length / 3));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { lagStart: mean(lags.slice(0, third)), lagEnd: mean(lags.slice(-third)) };
}

/** The p99 of the found probes' latencies, a probe never found counting as slower than any. */
export function p99WithMissing(latencies: number[], probes: number): number {
  if (probes === 0) return Number.NaN;
  const all = [...latencies, ...Array<number>(Math.max(0, probes - latencies.length)).fill(Infinity)];
  all.sort((a, b) => a - b);
  return all[Math.min(all.length - 1, Math.ceil(0.99 * all.length) - 1)]!;
}

/** Why a step was not sustained ('' when it was): lag growth counts past one second of the offered load. */
export function unsustainedBecause(s: StepFigures, p99GoalMs: number): string {
  const why: string[] = [];
  if (s.achievedRate < 0.9 * s.targetRate)
    why.push(`the load generator reached ${Math.round(s.achievedRate)} events/s only`);
  if (s.found < s.probes) why.push(`${s.probes - s.found} of ${s.probes} probes not found`);
  else if (!(s.p99 <= p99GoalMs)) why.push(`p99 ${Math.round(s.p99)} ms > ${p99GoalMs} ms`);
  if (s.lagEnd - s.lagStart > s.targetRate)
    why.push(`lag grew from ${Math.round(s.lagStart)} to ${Math.round(s.lagEnd)} events`);
  return why.join('; ');
}

/** The achieved rate of the last sustained step before the first that was not; 0 when the first was not. */
export function capacityOf(steps: (StepFigures & { sustained: boolean })[]): number {
  let capacity = 0;
  for (const s of steps) {
    if (!s.sustained) break;
    capacity = s.achievedRate;
  }
  return capacity;
}
