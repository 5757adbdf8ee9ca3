/**
 * `npm run bench:capacity`: the highest offered load the whole Kafka-mode pipeline (Kafka → ingest →
 * ClickHouse, with the detectors and the response stage on) sustains, the CPU one event costs in each
 * stage, and the latency at 50% and 80% of that capacity.
 * 1. Steps: one service; the benign background of bench:detect at each rate of BENCH_CAPACITY_RATES in
 *    turn (5 s warm-up, then BENCH_CAPACITY_STEP_SECONDS with a replayed refresh token every 500 ms),
 *    until a step is not sustained: misuse → finding p99 above BENCH_CAPACITY_P99_MS (or a probe never
 *    found), the consumer groups' lag growing (its mean over the step's last third above its first
 *    third's by more than one second of the offered load), or the load generator not reaching 90% of
 *    the rate. Capacity: the achieved rate of the last sustained step.
 * 2. At 50% and 80% of capacity, each on a fresh service and topic: p50/p99 misuse → finding.
 * 3. CPU per event per stage, at 50% of capacity, as the service process's CPU (/proc) over the
 *    events its reading group committed, with the stages switched on one after another on fresh
 *    services at the same rate: ingest alone (TOKENWATCH_DETECT=false, probes sent as well); ingest +
 *    detectors on benign traffic only (no probes: no findings, so the response stage idles); and the
 *    whole pipeline with probes (findings, decisions). ingest = the first; detect = second − first;
 *    respond = third − second (the findings' cost: the response stage, and the detectors' storing and
 *    publishing of the findings).
 * Baselines in the same run: the same background rows inserted straight into ClickHouse (as
 * bench:ingest's), and a bare consumer that only decodes the topic (JSON.parse of each value) — with
 * kafkajs, the client tokenwatch uses, and with @platformatic/kafka.
 *
 *   BENCH_CAPACITY_RATES (5000,10000,15000,20000,25000,30000,40000,50000)  offered events/s of the steps
 *   BENCH_CAPACITY_STEP_SECONDS (15)  seconds of probes per step (after 5 s of warm-up)
 *   BENCH_CAPACITY_POINT_SECONDS (20) seconds of probes at 50% and 80%, and of each CPU run
 *   BENCH_CAPACITY_P99_MS (250)       the p99 misuse → finding a sustained step stays within
 *   BENCH_CAPACITY_BASELINE_EVENTS (100000)  events of the raw-insert and bare-consumer baselines
 *   BENCH_KAFKA_VERSION (3.9.2)
 * Writes tools/bench/results/capacity.json and the "Capacity" section of tools/bench/RESULTS.md.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { type BareResult, kafkajsConsumer, measureBare, platformaticConsumer } from './bare-consumers.ts';
import { freshDatabase, serverVersion } from './bench-database.ts';
import { capacityOf, lagThirds, p99WithMissing, unsustainedBecause } from './capacity-steps.ts';
import { processCpuMs } from './process-cpu.ts';
import { insertRaw, rowsOf } from './raw-insert.ts';
import {
  type BenchStack,
  type Headline,
  headline,
  machine,
  median,
  quantile,
  startBenchStack,
  startService,
  stopService,
  writeResults,
} from './support.ts';
import {
  backgroundEvents,
  createRunTopics,
  followFindings,
  kafkaModeEnv,
  latenciesOf,
  probeUnderLoad,
} from './traffic.ts';

const RATES = (process.env['BENCH_CAPACITY_RATES'] ?? '5000,10000,15000,20000,25000,30000,40000,50000')
  .split(',')
  .map(Number);
const STEP_SECONDS = Number(process.env['BENCH_CAPACITY_STEP_SECONDS'] ?? 15);
const POINT_SECONDS = Number(process.env['BENCH_CAPACITY_POINT_SECONDS'] ?? 20);
const P99_MS = Number(process.env['BENCH_CAPACITY_P99_MS'] ?? 250);
const BASELINE_EVENTS = Number(process.env['BENCH_CAPACITY_BASELINE_EVENTS'] ?? 100_000);
const KAFKA_VERSION = process.env['BENCH_KAFKA_VERSION'] ?? '3.9.2';
const PROBE_EVERY_MS = 500;
const WARM_UP_MS = 5000;
const log = (msg: string) => console.error(`[bench:capacity] ${msg}`);

for (const [name, v] of [
  ['BENCH_CAPACITY_STEP_SECONDS', STEP_SECONDS],
  ['BENCH_CAPACITY_POINT_SECONDS', POINT_SECONDS],
  ['BENCH_CAPACITY_P99_MS', P99_MS],
  ['BENCH_CAPACITY_BASELINE_EVENTS', BASELINE_EVENTS],
  ...RATES.map((r) => ['BENCH_CAPACITY_RATES', r] as const),
] as const)
  if (!Number.isFinite(v) || v <= 0) {
    console.error(
      `bench:capacity: ${name} must be positive numbers (comma-separated for the rates), got ${v}`,
    );
    process.exit(2);
  }

/** One sample of a pipeline, taken every second while a load runs. */
interface Sample {
  t: number;
  cpuMs: number;
  /** events on the topic not yet committed by the slowest of the service's consumer groups */
  lag: number;
  /** events the ingest group has committed (stored in ClickHouse) */
  committed: number;
}

/** A running service in Kafka mode on its own topic, the findings it published, and its groups. */
interface Pipeline {
  topic: string;
  /** where the load is produced to */
  brokers: string[];
  child: ChildProcess;
  groups: string[];
  /** probe subject → when its refresh_replay finding arrived */
  arrived: Map<string, number>;
  /** findings about probes (every detector), so far */
  probeFindings: number;
  stop(): Promise<void>;
}

async function startPipeline(
  stack: BenchStack,
  kafka: Kafka,
  name: string,
  detect: boolean,
): Promise<Pipeline> {
  const topic = `bench.capacity.${name}`;
  await createRunTopics(kafka, topic);
  const env = kafkaModeEnv(stack, topic, `bench_capacity_${name}`);
  const service = await startService(detect ? env : { ...env, TOKENWATCH_DETECT: 'false' });
  const pipeline: Pipeline = {
    topic,
    brokers: [stack.brokers],
    child: service.child,
    // the one group that reads the events topic: with the detectors on, theirs (one read of the
    // topic, docs/detection.md); the ingest group then commits nothing and would look ever behind
    groups: detect ? [env.TOKENWATCH_DETECT_GROUP_ID] : [env.TOKENWATCH_KAFKA_GROUP_ID],
    arrived: new Map(),
    probeFindings: 0,
    stop: async () => {},
  };
  const stopFollowing = await followFindings(kafka, topic, (d) => {
    if (!d.subject.includes('probe-')) return;
    pipeline.probeFindings++;
    if (d.detector === 'refresh_replay') pipeline.arrived.set(d.subject, Date.now());
  });
  pipeline.stop = async () => {
    await stopFollowing();
    await stopService(service.child);
  };
  return pipeline;
}

/** Per group: the topic's end offsets minus the group's committed ones (nothing committed: from the start). */
async function offsetsOf(admin: Admin, p: Pipeline): Promise<{ lag: number; committed: number }> {
  const ends = await admin.fetchTopicOffsets(p.topic);
  const end = new Map(ends.map((e) => [e.partition, Number(e.high)]));
  const total = [...end.values()].reduce((a, b) => a + b, 0);
  const committedByGroup = await Promise.all(
    p.groups.map(async (groupId) => {
      const [t] = await admin.fetchOffsets({ groupId, topics: [p.topic] });
      return (t?.partitions ?? []).reduce((sum, x) => sum + Math.max(0, Number(x.offset)), 0);
    }),
  );
  return { lag: total - Math.min(...committedByGroup), committed: committedByGroup[0] ?? 0 };
}

interface LoadResult {
  targetRate: number;
  achievedRate: number;
  probes: number;
  found: number;
  p50: number;
  p99: number;
  /** the service's CPU over the events its reading group committed, in the probing window */
  cpuUsPerEvent: number;
  /** cores the service used in the window */
  cores: number;
  lagStart: number;
  lagEnd: number;
  /** findings about probes per second of the window */
  probeFindingsPerSecond: number;
}

/** A load on a pipeline, sampled every second; the window is the probing part (after the warm-up). */
async function runLoad(
  admin: Admin,
  kafka: Kafka,
  p: Pipeline,
  o: { rate: number; seconds: number; everyMs: number; prefix: string },
): Promise<LoadResult> {
  const samples: Sample[] = [];
  let sampling = true;
  const startedAt = performance.now();
  const sampler = (async () => {
    while (sampling) {
      const { lag, committed } = await offsetsOf(admin, p);
      samples.push({ t: performance.now(), cpuMs: processCpuMs(p.child.pid!), lag, committed });
      await sleep(1000);
    }
  })();
  const findingsBefore = p.probeFindings;
  const run = await probeUnderLoad(kafka, p.topic, { ...o, brokers: p.brokers });
  sampling = false;
  await sampler;
  const findingsInWindow = p.probeFindings - findingsBefore;
  for (let i = 0; i < 30 && [...run.sent.keys()].some((s) => !p.arrived.has(s)); i++) await sleep(100);
  const latencies = latenciesOf(run.sent, p.arrived);
  const window = samples.filter((s) => s.t >= startedAt + WARM_UP_MS);
  if (window.length < 3) throw new Error(`only ${window.length} samples in a ${o.seconds} s window`);
  const first = window[0]!;
  const last = window.at(-1)!;
  const seconds = (last.t - first.t) / 1000;
  const events = last.committed - first.committed;
  return {
    targetRate: o.rate,
    achievedRate: run.achievedRate,
    probes: run.probes,
    found: latencies.length,
    p50: quantile(latencies, 0.5),
    p99: p99WithMissing(latencies, run.probes),
    cpuUsPerEvent: events > 0 ? ((last.cpuMs - first.cpuMs) * 1000) / events : Number.NaN,
    cores: (last.cpuMs - first.cpuMs) / 1000 / seconds,
    ...lagThirds(window.map((x) => x.lag)),
    probeFindingsPerSecond: findingsInWindow / seconds,
  };
}

interface Step extends LoadResult {
  sustained: boolean;
  /** why not, or '' */
  why: string;
}

function judge(r: LoadResult): Step {
  const why = unsustainedBecause(r, P99_MS);
  return { ...r, sustained: why === '', why };
}

interface Baselines {
  rawRowsPerSecond: number;
  bare: BareResult[];
}

async function measureBaselines(
  stack: BenchStack,
  kafka: Kafka,
  ch: ClickHouseClient,
  version: string,
): Promise<Baselines> {
  const messages = backgroundEvents(BASELINE_EVENTS, 'base-');
  await freshDatabase(ch, 'bench_capacity_raw', version);
  const rawRowsPerSecond = await insertRaw(
    ch,
    'bench_capacity_raw.events',
    rowsOf(messages.map((m) => JSON.parse(m.value) as Record<string, unknown>)),
  );
  log(`raw JSONEachRow insert of the same rows: ${Math.round(rawRowsPerSecond)} rows/s`);
  const topic = 'bench.capacity.bare';
  await createRunTopics(kafka, topic);
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < messages.length; i += 5000)
    await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 5000) });
  await producer.disconnect();
  const bare: BareResult[] = [];
  // alternating, twice each: neither client always reads a colder or warmer page cache
  for (let round = 0; round < 2; round++)
    for (const consumer of [kafkajsConsumer(stack.brokers), platformaticConsumer(stack.brokers)]) {
      const r = await measureBare(consumer, topic, BASELINE_EVENTS, bare.length);
      log(
        `bare consumer (${r.client}): ${Math.round(r.eventsPerSecond)} events/s, ${r.cpuUsPerEvent.toFixed(1)} µs CPU per event`,
      );
      bare.push(r);
    }
  return { rawRowsPerSecond, bare };
}

/** Median events/s and CPU per event of one client's bare-consumer rounds. */
function bareOf(b: Baselines, client: string) {
  const rounds = b.bare.filter((r) => r.client === client);
  return {
    eventsPerSecond: median(rounds.map((r) => r.eventsPerSecond)),
    cpuUsPerEvent: median(rounds.map((r) => r.cpuUsPerEvent)),
  };
}

interface StageCpu {
  rate: number;
  ingestOnly: LoadResult;
  benignOnly: LoadResult;
  whole: LoadResult;
  ingest: number;
  detect: number;
  respond: number;
  /** respond's CPU per probe finding (µs) */
  respondPerFinding: number;
}

async function main() {
  const started = Date.now();
  const stack = await startBenchStack(KAFKA_VERSION, log);
  const kafka = new Kafka({
    brokers: [stack.brokers],
    clientId: 'bench-capacity',
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const ch = createClient({ url: stack.clickhouseUrl, request_timeout: 300_000 });
  try {
    const version = await serverVersion(ch);
    const baselines = await measureBaselines(stack, kafka, ch, version);

    const steps: Step[] = [];
    const stepping = await startPipeline(stack, kafka, 'steps', true);
    try {
      for (const [i, rate] of RATES.entries()) {
        log(`step ${i + 1}/${RATES.length}: ${rate} events/s`);
        const step = judge(
          await runLoad(admin, kafka, stepping, {
            rate,
            seconds: STEP_SECONDS,
            everyMs: PROBE_EVERY_MS,
            prefix: `s${i}-`,
          }),
        );
        log(
          `  achieved ${Math.round(step.achievedRate)} events/s, p50 ${step.p50} ms, p99 ${step.p99} ms, lag ${Math.round(step.lagStart)} → ${Math.round(step.lagEnd)}, ${step.cpuUsPerEvent.toFixed(1)} µs CPU per event: ${step.sustained ? 'sustained' : `not sustained (${step.why})`}`,
        );
        steps.push(step);
        if (!step.sustained) break;
      }
    } finally {
      await stepping.stop();
    }
    const capacity = capacityOf(steps);
    // below the first step: the points are taken as fractions of it, and say so
    const reference = capacity > 0 ? capacity : RATES[0]!;

    const points: { fraction: number; result: LoadResult }[] = [];
    for (const fraction of [0.5, 0.8]) {
      const rate = Math.round(fraction * reference);
      log(`${fraction * 100}% of capacity: ${rate} events/s`);
      const p = await startPipeline(stack, kafka, `at${fraction * 100}`, true);
      try {
        const result = await runLoad(admin, kafka, p, {
          rate,
          seconds: POINT_SECONDS,
          everyMs: PROBE_EVERY_MS,
          prefix: '',
        });
        log(
          `  p50 ${result.p50} ms, p99 ${result.p99} ms, ${result.cpuUsPerEvent.toFixed(1)} µs CPU per event`,
        );
        points.push({ fraction, result });
      } finally {
        await p.stop();
      }
    }

    const cpuRun = async (name: string, detect: boolean, everyMs: number) => {
      const p = await startPipeline(stack, kafka, name, detect);
      try {
        const r = await runLoad(admin, kafka, p, {
          rate: points[0]!.result.targetRate,
          seconds: POINT_SECONDS,
          everyMs,
          prefix: '',
        });
        log(`  ${name}: ${r.cpuUsPerEvent.toFixed(1)} µs CPU per event (${r.cores.toFixed(2)} cores)`);
        return r;
      } finally {
        await p.stop();
      }
    };
    log(`CPU per stage at ${points[0]!.result.targetRate} events/s`);
    const ingestOnly = await cpuRun('ingestonly', false, PROBE_EVERY_MS);
    const benignOnly = await cpuRun('benign', true, 0);
    const whole = points[0]!.result;
    const respond = whole.cpuUsPerEvent - benignOnly.cpuUsPerEvent;
    const stages: StageCpu = {
      rate: whole.targetRate,
      ingestOnly,
      benignOnly,
      whole,
      ingest: ingestOnly.cpuUsPerEvent,
      detect: benignOnly.cpuUsPerEvent - ingestOnly.cpuUsPerEvent,
      respond,
      respondPerFinding: (respond * whole.achievedRate) / whole.probeFindingsPerSecond,
    };
    report({ baselines, steps, capacity, points, stages, version, seconds: (Date.now() - started) / 1000 });
  } finally {
    await ch.close();
    await admin.disconnect();
    await stack.stop();
  }
}

interface Outcome {
  baselines: Baselines;
  steps: Step[];
  capacity: number;
  points: { fraction: number; result: LoadResult }[];
  stages: StageCpu;
  version: string;
  seconds: number;
}

const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en') : '–');
const us = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');

function headlines(o: Outcome): Headline[] {
  const kafkajs = bareOf(o.baselines, 'kafkajs');
  const platformatic = bareOf(o.baselines, '@platformatic/kafka');
  const firstStep = o.steps[0]!;
  const failed = o.steps.find((s) => !s.sustained);
  const bareNote = `a bare kafkajs consumer decoding the topic: ${us(kafkajs.cpuUsPerEvent)} µs per event`;
  const stage = (name: string, value: number, note: string) =>
    headline({
      figure: `CPU per event, ${name} (at ${fmt(o.stages.rate)} events/s)`,
      value,
      unit: 'µs',
      baseline: 'bare kafkajs consumer, decode only',
      baselineValue: kafkajs.cpuUsPerEvent,
      note,
    });
  return [
    headline({
      figure: 'capacity, Kafka → ClickHouse with the detectors on',
      value: o.capacity,
      unit: 'events/s',
      baseline: 'raw JSONEachRow inserts of the same rows',
      baselineValue: o.baselines.rawRowsPerSecond,
      note: `highest sustained step (p99 ≤ ${P99_MS} ms, lag not growing)${failed === undefined ? '; every step sustained' : `; next step ${fmt(failed.targetRate)} events/s: ${failed.why}`}; goal ≥ 30,000 and > half the baseline`,
    }),
    stage('ingest', o.stages.ingest, `ingest alone (detectors off); ${bareNote}`),
    stage('detect', o.stages.detect, 'ingest + detectors on benign traffic, minus ingest alone'),
    stage(
      'respond',
      o.stages.respond,
      `the whole pipeline with probes minus benign only; ${us(o.stages.respondPerFinding / 1000)} ms per finding`,
    ),
    ...o.points.map(({ fraction, result }) =>
      headline({
        figure: `misuse → finding p99 at ${fraction * 100}% of capacity (${fmt(result.targetRate)} events/s)`,
        value: result.p99,
        unit: 'ms',
        baseline: `p99 at the first step (${fmt(firstStep.targetRate)} events/s)`,
        baselineValue: firstStep.p99,
        note: `p50 ${fmt(result.p50)} ms; probes found ${result.found}/${result.probes}`,
      }),
    ),
    headline({
      figure: 'bare consumer throughput, @platformatic/kafka',
      value: platformatic.eventsPerSecond,
      unit: 'events/s',
      baseline: 'the same with kafkajs',
      baselineValue: kafkajs.eventsPerSecond,
      note: 'decode only (JSON.parse of each value), medians of 2 rounds each',
    }),
    headline({
      figure: 'bare consumer CPU per event, @platformatic/kafka',
      value: platformatic.cpuUsPerEvent,
      unit: 'µs',
      baseline: 'the same with kafkajs',
      baselineValue: kafkajs.cpuUsPerEvent,
      note: 'below 1: @platformatic/kafka decodes the topic for less CPU',
    }),
  ];
}

function report(o: Outcome) {
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const m = machine(`Kafka ${KAFKA_VERSION}, ClickHouse ${o.version}`);
  const kafkajs = bareOf(o.baselines, 'kafkajs');
  const platformatic = bareOf(o.baselines, '@platformatic/kafka');
  const loadRow = (label: string, r: LoadResult, verdict: string) =>
    `| ${label} | ${fmt(r.achievedRate)} | ${r.found}/${r.probes} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.lagStart)} → ${fmt(r.lagEnd)} | ${us(r.cpuUsPerEvent)} | ${r.cores.toFixed(2)} | ${verdict} |`;
  const s = o.stages;
  const section = [
    '## Capacity',
    '',
    `\`npm run bench:capacity\` (BENCH_CAPACITY_RATES=${RATES.join(',')}, BENCH_CAPACITY_STEP_SECONDS=${STEP_SECONDS}, BENCH_CAPACITY_POINT_SECONDS=${POINT_SECONDS}, BENCH_CAPACITY_P99_MS=${P99_MS}, BENCH_CAPACITY_BASELINE_EVENTS=${BASELINE_EVENTS}) on ${date} UTC; ${m}; Kafka, ClickHouse, the service (ingest, detectors, response) and the load generator on the same machine; ${Math.round(o.seconds)} s in all.`,
    '',
    `**Capacity: ${fmt(o.capacity)} events/s** (Kafka → ClickHouse with the detectors on) beside ${fmt(o.baselines.rawRowsPerSecond)} rows/s of raw JSONEachRow inserts of the same rows (10k per insert) in the same run: ratio ${(o.capacity / o.baselines.rawRowsPerSecond).toFixed(2)}. Goal: ≥ 30,000 events/s and more than half the raw baseline.`,
    '',
    `Method: one service; the benign background of bench:detect stepped up (5 s warm-up, then ${STEP_SECONDS} s with a replayed refresh token every ${PROBE_EVERY_MS} ms); a step is sustained while misuse → finding p99 ≤ ${P99_MS} ms with every probe found, the lag of the slowest consumer group (events not committed) averaged over the step's last third is not above its first third's by more than one second of the load, and the load generator reaches 90% of the rate. Capacity: the achieved rate of the last sustained step. CPU: the service process's user + system time (/proc) over the events its reading group committed in the probing window.`,
    '',
    '| offered load | achieved events/s | probes found | p50 ms | p99 ms | lag (events), first → last third | CPU µs per event | cores | sustained |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...o.steps.map((r) =>
      loadRow(`step ${fmt(r.targetRate)} events/s`, r, r.sustained ? 'yes' : `no: ${r.why}`),
    ),
    ...o.points.map(({ fraction, result }) =>
      loadRow(
        `${fraction * 100}% of capacity, ${fmt(result.targetRate)} events/s (fresh service)`,
        result,
        '–',
      ),
    ),
    '',
    `CPU per event per stage at ${fmt(s.rate)} events/s (50% of capacity), the stages switched on one after another on fresh services at the same rate (one process runs them all, so each stage is the difference of two runs; noisy where other work shares the cores):`,
    '',
    '| stage | how | CPU µs per event | ratio to the bare kafkajs consumer |',
    '|---|---|---:|---:|',
    `| ingest | ingest alone (TOKENWATCH_DETECT=false): decode, validate, enrich, store | ${us(s.ingest)} | ${(s.ingest / kafkajs.cpuUsPerEvent).toFixed(2)} |`,
    `| detect | ingest + detectors on benign traffic (no findings), minus ingest alone: the detectors and their state (the topic is read once) | ${us(s.detect)} | ${(s.detect / kafkajs.cpuUsPerEvent).toFixed(2)} |`,
    `| respond | the whole pipeline with probes, minus benign traffic only: the findings (${s.whole.probeFindingsPerSecond.toFixed(1)}/s) stored and published, decided, recorded | ${us(s.respond)} (${us(s.respondPerFinding / 1000)} ms per finding) | ${(s.respond / kafkajs.cpuUsPerEvent).toFixed(2)} |`,
    `| whole pipeline | | ${us(s.whole.cpuUsPerEvent)} | ${(s.whole.cpuUsPerEvent / kafkajs.cpuUsPerEvent).toFixed(2)} |`,
    '',
    `Bare consumer baseline: one group member reading the topic of ${fmt(BASELINE_EVENTS)} background events from its start, decoding each value (JSON.parse) and nothing else, fetching as tokenwatch's consumer does (1 MiB per partition, 8 MiB per fetch), in the bench's own process; events/s from the first message to the last and that process's CPU over the same span; medians of 2 alternating rounds per client.`,
    '',
    '| client | events/s | CPU µs per event | ratio to kafkajs (events/s; CPU) |',
    '|---|---:|---:|---:|',
    `| kafkajs 2 (tokenwatch's) | ${fmt(kafkajs.eventsPerSecond)} | ${us(kafkajs.cpuUsPerEvent)} | 1.00; 1.00 |`,
    `| @platformatic/kafka 1.35 | ${fmt(platformatic.eventsPerSecond)} | ${us(platformatic.cpuUsPerEvent)} | ${(platformatic.eventsPerSecond / kafkajs.eventsPerSecond).toFixed(2)}; ${(platformatic.cpuUsPerEvent / kafkajs.cpuUsPerEvent).toFixed(2)} |`,
    '',
  ].join('\n');
  console.log(`\n${section}`);
  writeResults('Capacity', section, 'capacity', {
    headline: headlines(o),
    date,
    machine: m,
    rates: RATES,
    stepSeconds: STEP_SECONDS,
    pointSeconds: POINT_SECONDS,
    p99GoalMs: P99_MS,
    ...o,
  });
}

main().catch((err: Error) => {
  console.error(`bench:capacity failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
