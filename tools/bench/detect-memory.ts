/**
 * Heap bytes per tracked key of the detector runtime (run by tools/bench/detect.ts, one workload per
 * process: `node --expose-gc tools/bench/detect-memory.ts <workload> <keys>`; prints one JSON line). Each workload builds
 * about `keys` tracked keys from realistic events, beside a baseline measured in the same process:
 * a Map holding the same number of keys (ids of the same length) with a number each — the least
 * any detector must keep to remember a token.
 */
import { REGISTRY } from '../../detectors/registry.ts';
import { DetectorRuntime } from '../../detectors/run/runtime.ts';
import { TenantThresholds } from '../../detectors/thresholds.ts';
import { id, NOW, WORKLOADS } from './detect-workloads.ts';

const KEYS = Number(process.argv[3] ?? 1_000_000);
/** the detectors' allowed lateness (ms): what families keep for late reports */
const LATENESS_MS = Number(process.argv[4] ?? REGISTRY.defaults.allowedLatenessMs);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

/** The baseline: a Map of `n` UUID-length ids to a number each. */
function baseline(n: number) {
  const map = new Map<string, number>();
  for (let k = 0; k < n; k++) map.set(id(), NOW + k);
  return { keys: map.size, subjects: 0, keep: map };
}

function run(name: string, n: number) {
  if (name === 'baseline') return baseline(n);
  const workload = WORKLOADS[name];
  if (workload === undefined) throw new Error(`unknown workload ${name}`);
  const rt = new DetectorRuntime({
    thresholds: new TenantThresholds({ ...REGISTRY.defaults, allowedLatenessMs: LATENESS_MS }),
    dryRun: new Set(),
    maxKeys: n * 2,
    now: () => NOW,
  });
  workload(rt, n);
  return { ...rt.stats, keep: rt };
}

// One workload per process, warmed up first (code, inline caches, interned strings), then measured.
const name = process.argv[2] ?? 'baseline';
run(name, Math.max(1000, Math.floor(KEYS / 100)));
const before = heap();
const t0 = performance.now();
const result = run(name, KEYS);
const ms = performance.now() - t0;
const bytes = heap() - before;
console.log(
  JSON.stringify({
    workload: name,
    keys: result.keys,
    subjects: result.subjects,
    bytesPerKey: bytes / result.keys,
    ms,
  }),
);
