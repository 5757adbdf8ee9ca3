/**
 * A whole simulation from a seed: the population, every user's benign days, the attacks and their
 * labels, as one time-ordered list of steps; with `hardPerKind`, the hard benign cases beside them
 * (tools/simulator/hard-cases.ts: their own users, never attacked; without it the plan is exactly
 * the one it always was). Pure: the same options give the same steps.
 */
import { ATTACK_KINDS, planAttacks } from './attacks.ts';
import { userPlan } from './day-plan.ts';
import { type HardCaseLabel, planHardCases } from './hard-cases.ts';
import { makePopulation, type User } from './population.ts';
import { Random } from './random.ts';
import { type AttackKind, type AttackLabel, byTime, type Step } from './steps.ts';

export interface SimulationOptions {
  seed: string;
  users: number;
  /** simulated time covered, ms */
  durationMs: number;
  /** UTC epoch ms of simulated time 0 (decides local times of day) */
  startUtcMs: number;
  attacksPerKind: number;
  tenant: string;
  /** chance a user flies somewhere on a given day (default 0.03) */
  travelPerDay?: number;
  kinds?: readonly AttackKind[];
  /** calls per burst ×, gaps ÷ (default 1; the demo packs more into its minutes) */
  activity?: number;
  /** users of every hard benign case (default 0: none; `npm run eval -- --hard`) */
  hardPerKind?: number;
}

export interface Simulation {
  options: SimulationOptions;
  users: User[];
  steps: Step[];
  labels: AttackLabel[];
  /** users no attack touches: the denominator of false positives per 1,000 benign subjects */
  benignSubjects: string[];
  /** the hard benign cases' subjects (also never attacked), each with its kind; [] without them */
  hardCases: HardCaseLabel[];
}

export function buildSimulation(o: SimulationOptions): Simulation {
  const rnd = new Random(o.seed);
  const users = makePopulation(o.users, rnd.fork('population'));
  const window = { startUtcMs: o.startUtcMs, durationMs: o.durationMs };
  const benign = new Map(
    users.map((u) => [
      u.subject,
      userPlan(u, rnd.fork(`plan/${u.subject}`), window, o.travelPerDay, o.activity),
    ]),
  );
  const attacks = planAttacks(
    users,
    benign,
    rnd.fork('attacks'),
    o.durationMs,
    o.attacksPerKind,
    o.tenant,
    o.kinds ?? ATTACK_KINDS,
  );
  const victims = new Set(attacks.labels.map((l) => l.subject));
  const hard = planHardCases(o.hardPerKind ?? 0, rnd.fork('hard'), window, o.activity);
  const steps = [...[...benign.values()].flat(), ...attacks.steps, ...hard.steps].sort(byTime);
  return {
    options: o,
    users: [...users, ...hard.users],
    hardCases: hard.labels,
    steps,
    labels: attacks.labels.sort((a, b) => a.startAt - b.startAt),
    benignSubjects: users.map((u) => u.subject).filter((s) => !victims.has(s)),
  };
}
