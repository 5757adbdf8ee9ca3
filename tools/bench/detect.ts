/**
 * `npm run bench:detect`:
 * 1. Latency: first misuse event → finding on the findings topic, through the real service (Kafka
 *    mode: ingest and detectors), for replayed refresh tokens injected every 500 ms — with no other
 *    traffic (the baseline) and under a background load of BENCH_DETECT_RATE events/s, in the same run.
 * 2. Memory: heap bytes per tracked key at BENCH_DETECT_KEYS keys (tokens; families; a daily mix),
 *    beside a baseline measured the same way: a Map of as many ids to a number each.
 * 3. The cost of judging by event time: the loaded run and the families' memory again with the
 *    allowed lateness at 0 (allowedLatenessMs: reports are judged as of their time, but nothing
 *    late is put in its place), beside the default (5 min); and families whose rotations all fall
 *    within the lateness bound (the worst case for memory).
 *
 *   BENCH_DETECT_RATE (20000)  background events/s
 *   BENCH_DETECT_SECONDS (60)  seconds of probes per load
 *   BENCH_DETECT_KEYS (1000000) tracked keys for the memory figures
 *   BENCH_KAFKA_VERSION (3.9.2)
 * Writes tools/bench/results/detect.json and the "Detection" section of tools/bench/RESULTS.md.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { REGISTRY } from '../../detectors/registry.ts';
import { REPO_ROOT } from '../local-stack/paths.ts';
import {
  type Headline,
  headline,
  machine,
  quantile,
  startBenchStack,
  startService,
  stopService,
  writeResults,
} from './support.ts';
import { createRunTopics, followFindings, kafkaModeEnv, latenciesOf, probeUnderLoad } from './traffic.ts';

const RATE = Number(process.env['BENCH_DETECT_RATE'] ?? 20_000);
const SECONDS = Number(process.env['BENCH_DETECT_SECONDS'] ?? 60);
const KEYS = Number(process.env['BENCH_DETECT_KEYS'] ?? 1_000_000);
const KAFKA_VERSION = process.env['BENCH_KAFKA_VERSION'] ?? '3.9.2';
const PROBE_EVERY_MS = 500;
const log = (msg: string) => console.error(`[bench:detect] ${msg}`);

interface LatencyResult {
  load: string;
  /** the detectors' allowed lateness (ms) */
  latenessMs: number;
  targetRate: number;
  achievedRate: number;
  probes: number;
  found: number;
  p50: number;
  p99: number;
  max: number;
  backgroundFindings: number;
}

const DEFAULT_LATENESS_MS = REGISTRY.defaults.allowedLatenessMs as number;

/** A detector settings file with the allowed lateness at `ms` (undefined: the default, no file). */
function latenessConfig(ms: number): Record<string, string> {
  if (ms === DEFAULT_LATENESS_MS) return {};
  const file = join(mkdtempSync(join(tmpdir(), 'bench-detect-')), 'detectors.json');
  writeFileSync(file, JSON.stringify({ thresholds: { allowedLatenessMs: ms } }));
  return { TOKENWATCH_DETECT_CONFIG: file };
}

async function measureLatency(
  stack: { clickhouseUrl: string; brokers: string },
  kafka: Kafka,
  rate: number,
  run: number,
  latenessMs: number,
): Promise<LatencyResult> {
  const topic = `bench.detect.${run}`;
  await createRunTopics(kafka, topic);
  const service = await startService({
    ...kafkaModeEnv(stack, topic, `bench_detect_${run}`),
    ...latenessConfig(latenessMs),
  });
  const arrived = new Map<string, number>();
  let backgroundFindings = 0;
  const stopFollowing = await followFindings(kafka, topic, (d) => {
    if (!d.subject.startsWith('probe-')) backgroundFindings++;
    else if (d.detector === 'refresh_replay') arrived.set(d.subject, Date.now());
  });
  const { sent, probes, achievedRate } = await probeUnderLoad(kafka, topic, {
    brokers: [stack.brokers],
    rate,
    seconds: SECONDS,
    everyMs: PROBE_EVERY_MS,
  });
  for (let i = 0; i < 100 && arrived.size < sent.size; i++) await sleep(100);
  const latencies = latenciesOf(sent, arrived);
  await stopFollowing();
  await stopService(service.child);
  return {
    load: rate === 0 ? 'none (baseline)' : `${rate.toLocaleString('en')} events/s`,
    latenessMs,
    targetRate: rate,
    achievedRate,
    probes,
    found: latencies.length,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    max: Math.max(...latencies),
    backgroundFindings,
  };
}

interface MemoryResult {
  workload: string;
  latenessMs: number;
  /** time between a family's rotations (ms) */
  rotationGapMs: number;
  keys: number;
  subjects: number;
  bytesPerKey: number;
  ms: number;
}

/** A family's rotations 15 minutes apart (an access token's lifetime), as clients refresh. */
const ROTATION_GAP_MS = 900_000;

async function measureMemory(
  workload: string,
  latenessMs = DEFAULT_LATENESS_MS,
  rotationGapMs = ROTATION_GAP_MS,
): Promise<MemoryResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--expose-gc',
      '--max-old-space-size=8192',
      `${REPO_ROOT}tools/bench/detect-memory.ts`,
      workload,
      String(KEYS),
      String(latenessMs),
    ],
    { maxBuffer: 1 << 20, env: { ...process.env, ROTATION_GAP_MS: String(rotationGapMs) } },
  );
  return {
    ...(JSON.parse(stdout) as Omit<MemoryResult, 'latenessMs' | 'rotationGapMs'>),
    latenessMs,
    rotationGapMs,
  };
}

async function main() {
  log(`memory at ${KEYS.toLocaleString('en')} tracked keys`);
  const memory: MemoryResult[] = [];
  for (const [w, lateness, gap] of [
    ['baseline', DEFAULT_LATENESS_MS, ROTATION_GAP_MS],
    ['tokens', DEFAULT_LATENESS_MS, ROTATION_GAP_MS],
    ['families', DEFAULT_LATENESS_MS, ROTATION_GAP_MS],
    ['families', 0, ROTATION_GAP_MS],
    // the worst case of the lateness bound: every rotation within it, each kept for re-judging
    ['families', DEFAULT_LATENESS_MS, 0],
    ['families', 0, 0],
    ['mixed', DEFAULT_LATENESS_MS, ROTATION_GAP_MS],
  ] as const) {
    const m = await measureMemory(w, lateness, gap);
    log(
      `  ${w} (lateness ${lateness} ms, rotations ${gap} ms apart): ${m.bytesPerKey.toFixed(0)} bytes per key (${m.keys} keys, ${(m.ms / 1000).toFixed(1)} s)`,
    );
    memory.push(m);
  }

  const stack = await startBenchStack(KAFKA_VERSION, log);
  const kafka = new Kafka({ brokers: [stack.brokers], clientId: 'bench-detect', logLevel: logLevel.NOTHING });
  const latency: LatencyResult[] = [];
  try {
    const runs = [
      [0, DEFAULT_LATENESS_MS],
      [RATE, DEFAULT_LATENESS_MS],
      [RATE, 0],
    ] as const;
    for (const [run, [rate, lateness]] of runs.entries()) {
      log(
        `latency with background load ${rate} events/s, allowed lateness ${lateness} ms, ${SECONDS} s of probes`,
      );
      const r = await measureLatency(stack, kafka, rate, run, lateness);
      log(
        `  p50 ${r.p50} ms, p99 ${r.p99} ms, found ${r.found}/${r.probes}, achieved ${Math.round(r.achievedRate)} events/s`,
      );
      latency.push(r);
    }
  } finally {
    await stack.stop();
  }
  report(latency, memory);
}

/** p99 latency under load beside idle; heap bytes per key of each workload beside a plain Map. */
function headlines(latency: LatencyResult[], memory: MemoryResult[]): Headline[] {
  const [idle, loaded, noLateness] = latency as [LatencyResult, LatencyResult, LatencyResult];
  const base = memory.find((x) => x.workload === 'baseline')!;
  return [
    headline({
      figure: `misuse → finding p99 under ${loaded.load}`,
      value: loaded.p99,
      unit: 'ms',
      baseline: 'the same probes, no background load',
      baselineValue: idle.p99,
      note: `probes found ${loaded.found}/${loaded.probes} (idle ${idle.found}/${idle.probes}); goal p99 ≤ 250 ms under 20k events/s`,
    }),
    headline({
      figure: `misuse → finding p99 under ${loaded.load}, judging by event time (5 min lateness)`,
      value: loaded.p99,
      unit: 'ms',
      baseline: 'the same load with the allowed lateness at 0',
      baselineValue: noLateness.p99,
      note: `p50 ${loaded.p50} ms beside ${noLateness.p50} ms`,
    }),
    ...memory
      .filter((x) => x !== base)
      .map((x) =>
        headline({
          figure: `detector heap per tracked key (${x.workload}${x.latenessMs === DEFAULT_LATENESS_MS ? '' : `, lateness ${x.latenessMs} ms`}${x.rotationGapMs === ROTATION_GAP_MS ? '' : `, rotations ${x.rotationGapMs} ms apart`})`,
          value: x.bytesPerKey,
          unit: 'bytes',
          baseline: 'Map(36-char id → number)',
          baselineValue: base.bytesPerKey,
          note: `at ${x.keys.toLocaleString('en')} keys`,
        }),
      ),
  ];
}

function report(latency: LatencyResult[], memory: MemoryResult[]) {
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const m = machine(`Kafka ${KAFKA_VERSION}, ClickHouse 18.16`);
  const idle = latency[0]!;
  const base = memory.find((x) => x.workload === 'baseline')!;
  const fmt = (n: number) => Math.round(n).toLocaleString('en');
  const section = [
    '## Detection',
    '',
    `\`npm run bench:detect\` (BENCH_DETECT_RATE=${RATE}, BENCH_DETECT_SECONDS=${SECONDS}, BENCH_DETECT_KEYS=${KEYS}) on ${date} UTC; ${m}; Kafka, ClickHouse, the service (ingest and detectors) and the load generator on the same machine.`,
    '',
    `Latency: a replayed refresh token every ${PROBE_EVERY_MS} ms, from producing the replay to its refresh_replay finding arriving on the findings topic (stored in ClickHouse and published). Baseline: the same probes with no other traffic, in the same run. Goal: p99 ≤ 250 ms under 20k events/s.`,
    '',
    '| background load | allowed lateness | achieved events/s | probes found | p50 ms | p99 ms | max ms | p99 / baseline p99 | findings from benign traffic |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...latency.map(
      (r) =>
        `| ${r.load} | ${r.latenessMs / 1000} s | ${fmt(r.achievedRate)} | ${r.found}/${r.probes} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${(r.p99 / idle.p99).toFixed(2)} | ${r.backgroundFindings} |`,
    ),
    '',
    'The last row is the cost of judging by event time: the same load with the allowed lateness at 0 (no late report is put in its place, no later one re-judged).',
    '',
    `Memory: heap bytes per tracked key (tokens + families + sessions in detector state), each workload in its own process after a warm-up, at ${KEYS.toLocaleString('en')} keys. Baseline: a Map of as many 36-character ids to a number each (the least that remembers a key), in the same run. Goal: ≤ 200 bytes per token, ≤ 300 per family.`,
    '',
    '| workload | allowed lateness | rotations apart | keys | subjects | bytes per key | ratio to baseline |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...memory.map(
      (x) =>
        `| ${x.workload === 'baseline' ? 'baseline: Map(id → number)' : x.workload} | ${x.latenessMs / 1000} s | ${x.workload === 'tokens' || x.workload === 'baseline' ? '–' : `${x.rotationGapMs / 60_000} min`} | ${fmt(x.keys)} | ${fmt(x.subjects)} | ${fmt(x.bytesPerKey)} | ${(x.bytesPerKey / base.bytesPerKey).toFixed(2)} |`,
    ),
    '',
    "Workloads: tokens — 4 access tokens per subject, each verified twice from its device; families — 2 refresh families per subject, each issued and rotated 3 times; mixed — per subject a family rotated twice, a session and 3 access tokens verified 3 times each. Rotations 15 minutes apart (an access token's lifetime) is how clients refresh; 0 minutes apart is the worst case of the lateness bound: every rotation of a family is within it and kept (a presentation and its sighting, about 160 bytes each) for re-judging a late report.",
    '',
  ].join('\n');
  console.log(`\n${section}`);
  writeResults('Detection', section, 'detect', {
    headline: headlines(latency, memory),
    date,
    machine: m,
    rate: RATE,
    seconds: SECONDS,
    keys: KEYS,
    latency,
    memory,
  });
}

main().catch((err: Error) => {
  console.error(`bench:detect failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
