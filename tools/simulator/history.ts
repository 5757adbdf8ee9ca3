/**
 * The learning history of a simulation (`npm run eval -- --hard`): what a deployment that has run
 * for weeks already knows of its users. For every user of the simulation (the ordinary population
 * and the hard cases) the `days` UTC days before the simulated window, lived by the same day plans
 * and, for a hard case, the same network rewrites — one plan per local day, each from a random
 * stream of its own (`history/<subject>/<day>`), so the window's plan is exactly what it is without
 * a history, and a day's trip abroad is over by the next day. Hard cases that fly do so at the usual
 * rate here (the window is where their trip happens). No attacks. Reduced to what familiarity needs:
 * one accepted verification sighting per (subject, device, address, UTC hour). Pure and seeded.
 */
import { TRAVEL_PER_DAY, userPlan } from './day-plan.ts';
import { hardCaseDays } from './hard-cases.ts';
import type { User } from './population.ts';
import { Random } from './random.ts';
import type { Simulation } from './simulation.ts';
import type { Source, Step } from './steps.ts';

/** The learning period of `npm run eval -- --hard` unless `--history-days` says otherwise. */
export const HISTORY_DAYS = 14;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A device seen using its token from an address (an accepted verification). */
export interface Sighting {
  /** UTC epoch ms: the first call of that device from that address in that UTC hour */
  timeMs: number;
  tenant: string;
  subject: string;
  source: Source;
  deviceId: string;
  userAgent: string;
  ip: string;
}

/** One user's steps over the history: a plan per local day, placed in UTC, inside [fromMs, toMs). */
function historySteps(
  sim: Simulation,
  user: User,
  plan: (window: { startUtcMs: number; durationMs: number }, rnd: Random) => Step[],
  fromMs: number,
  toMs: number,
): { at: number; step: Step }[] {
  const offset = user.utcOffsetH * HOUR;
  const firstMidnight = Math.floor((fromMs + offset) / DAY) * DAY - offset;
  const root = new Random(sim.options.seed).fork('history').fork(user.subject);
  const out: { at: number; step: Step }[] = [];
  for (let midnight = firstMidnight, day = 0; midnight < toMs; midnight += DAY, day++)
    for (const step of plan({ startUtcMs: midnight, durationMs: DAY }, root.fork(day))) {
      const at = midnight + step.at;
      if (at >= fromMs && at < toMs) out.push({ at, step });
    }
  return out;
}

/** The sightings of the `days` days before the simulation's window, in time order. */
export function buildHistory(sim: Simulation, days = HISTORY_DAYS): Sighting[] {
  if (days <= 0) return [];
  const o = sim.options;
  const toMs = o.startUtcMs;
  const fromMs = toMs - days * DAY;
  const kinds = new Map(sim.hardCases.map((l) => [l.subject, l.kind]));
  const sightings: Sighting[] = [];
  for (const user of sim.users) {
    const kind = kinds.get(user.subject);
    const devices = new Map(user.devices.map((d) => [d.id, d]));
    const steps = historySteps(
      sim,
      user,
      (window, rnd) =>
        kind === undefined
          ? userPlan(user, rnd.fork('plan'), window, o.travelPerDay, o.activity)
          : hardCaseDays(
              kind,
              user,
              rnd.fork('plan'),
              rnd.fork('networks'),
              window,
              o.activity,
              o.travelPerDay ?? TRAVEL_PER_DAY,
            ),
      fromMs,
      toMs,
    ).sort((a, b) => a.at - b.at);
    const seen = new Set<string>();
    for (const { at, step } of steps) {
      if (step.kind !== 'call') continue;
      const key = `${step.device}\u0000${step.net.ip}\u0000${Math.floor(at / HOUR)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      sightings.push({
        timeMs: at,
        tenant: o.tenant,
        subject: user.subject,
        source: step.source,
        deviceId: step.device,
        userAgent: devices.get(step.device)?.userAgent ?? '',
        ip: step.net.ip,
      });
    }
  }
  return sightings.sort((a, b) => a.timeMs - b.timeMs);
}
