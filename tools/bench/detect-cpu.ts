/**
 * CPU per event of the detector runtime, this tree beside another checkout of tokenwatch in the same
 * process (`node --expose-gc tools/bench/detect-cpu.ts <other tree> [workload] [keys] [rounds]`;
 * prints a JSON line per round and one summary line). Both run the same recorded events of a
 * detect-workloads.ts workload, each into a fresh runtime, alternating which goes first, so the
 * machine's load falls on both alike: the ratio of a round is the figure, not the µs.
 */
import { resolve } from 'node:path';
import type { DetectorInput } from '../../detectors/run/runtime.ts';
import { type EventSink, NOW, WORKLOADS } from './detect-workloads.ts';

const OTHER = process.argv[2];
if (OTHER === undefined) throw new Error('usage: detect-cpu.ts <other tree> [workload] [keys] [rounds]');
const WORKLOAD = process.argv[3] ?? 'mixed';
const KEYS = Number(process.argv[4] ?? 200_000);
const ROUNDS = Number(process.argv[5] ?? 5);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const workload = WORKLOADS[WORKLOAD];
if (workload === undefined) throw new Error(`unknown workload ${WORKLOAD}: one of ${Object.keys(WORKLOADS)}`);
const events: DetectorInput[] = [];
const recorder: EventSink = { process: (e) => events.push(e) };
workload(recorder, KEYS);

/** A maker of fresh detector runtimes from the checkout at `dir` (its registry and default thresholds). */
async function detectorRuntimeFrom(dir: string): Promise<() => EventSink> {
  const { REGISTRY } = await import(`${dir}/detectors/registry.ts`);
  const { DetectorRuntime } = await import(`${dir}/detectors/run/runtime.ts`);
  const { TenantThresholds } = await import(`${dir}/detectors/thresholds.ts`);
  return () =>
    new DetectorRuntime({
      thresholds: new TenantThresholds(REGISTRY.defaults),
      dryRun: new Set(),
      maxKeys: KEYS * 2,
      now: () => NOW,
    });
}

const trees = {
  this: await detectorRuntimeFrom(resolve(import.meta.dirname, '../..')),
  other: await detectorRuntimeFrom(resolve(OTHER)),
};

/** CPU µs per event of one pass over the events into a fresh runtime. */
function pass(tree: keyof typeof trees, count = events.length): number {
  const rt = trees[tree]();
  gc?.();
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) rt.process(events[i]!, 'live');
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}

// warm-up: code, inline caches, interned strings
pass('this', Math.min(events.length, 50_000));
pass('other', Math.min(events.length, 50_000));
const ratios: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const [first, second] = round % 2 === 0 ? (['this', 'other'] as const) : (['other', 'this'] as const);
  const us = { [first]: pass(first), [second]: pass(second) } as Record<keyof typeof trees, number>;
  ratios.push(us.this / us.other);
  console.log(JSON.stringify({ round, events: events.length, usPerEvent: us, ratio: us.this / us.other }));
}
const sorted = [...ratios].sort((a, b) => a - b);
console.log(
  JSON.stringify({
    workload: WORKLOAD,
    keys: KEYS,
    events: events.length,
    other: OTHER,
    medianRatio: sorted[Math.floor(sorted.length / 2)],
    ratios,
  }),
);
