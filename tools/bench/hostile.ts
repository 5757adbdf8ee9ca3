/**
 * `npm run bench:hostile`: the reliability contract under a long hostile run, and fairness between
 * tenants, measured on a private ClickHouse + Kafka.
 *
 * 1. The hostile corpus (tools/bench/hostile-corpus.ts) through both doors of the service in Kafka mode,
 *    BENCH_HOSTILE_EVENTS items (default 500,000) from BENCH_HOSTILE_SEED (default: new each run,
 *    printed so a failure can be replayed), every invariant checked (tools/bench/hostile-run.ts); the
 *    event loop's longest hold beside an idle Node process's timer lateness in the same run.
 * 2. A quiet tenant's ingest latency (POST → 200, single-process mode: stored) while a noisy tenant
 *    offers ten times its quota, beside the same quiet traffic with the noisy tenant silent,
 *    alternating BENCH_HOSTILE_ROUNDS times; and how the noisy tenant was answered.
 */
import { createClient } from '@clickhouse/client';
import { Kafka, logLevel } from 'kafkajs';
import { CLASS_COUNT } from './hostile-corpus.ts';
import { runHostile } from './hostile-run.ts';
import {
  headline,
  machine,
  quantile,
  SERVICE_API_KEY,
  startBenchStack,
  startService,
  stopService,
  writeResults,
} from './support.ts';

const EVENTS = Number(process.env['BENCH_HOSTILE_EVENTS'] ?? 500_000);
const SEED = Number(process.env['BENCH_HOSTILE_SEED'] ?? Date.now() % 2 ** 31);
const ROUNDS = Number(process.env['BENCH_HOSTILE_ROUNDS'] ?? 3);
const PHASE_S = Number(process.env['BENCH_HOSTILE_PHASE_SECONDS'] ?? 10);
const QUOTA = 5000;
const QUIET_KEY = 'quiet-key-0123456789abcdef';
const log = (m: string) => console.error(`[bench:hostile] ${m}`);

const ndjson = (events: object[]) => events.map((e) => JSON.stringify(e)).join('\n');
const event = (tenant: string, i: number) => ({
  event_id: `${tenant}-${i}`,
  type: 'verification',
  time: Date.now(),
  tenant,
  subject: `user-${i % 1000}`,
  ip: '85.214.132.117',
  outcome: 'accepted',
  reason: 'ok',
  jti: `jti-${tenant}-${i}`,
});

async function post(url: string, key: string, body: string) {
  const started = performance.now();
  const res = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${key}` },
    body,
  });
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - started, retryAfter: res.headers.get('retry-after') };
}

/** The quiet tenant: 100 events every 200 ms (500/s) for `seconds`; its request latencies. */
async function quietTraffic(url: string, seconds: number, offset: number) {
  const latencies: number[] = [];
  const end = Date.now() + seconds * 1000;
  for (let i = 0; Date.now() < end; i++) {
    const batch = Array.from({ length: 100 }, (_, j) => event('quiet', offset + i * 100 + j));
    const r = await post(url, QUIET_KEY, ndjson(batch));
    if (r.status !== 200) throw new Error(`the quiet tenant was answered ${r.status}`);
    latencies.push(r.ms);
    await new Promise((res) => setTimeout(res, 200));
  }
  return latencies;
}

/** The noisy tenant: 500-event requests as fast as 4 connections go (far past its quota) until `stop`. */
async function noisyTraffic(url: string, stop: () => boolean) {
  const answers: Record<string, number> = {};
  let offered = 0;
  let badRetryAfter = 0;
  const worker = async (w: number) => {
    for (let i = 0; !stop(); i++) {
      const batch = Array.from({ length: 500 }, (_, j) => event('acme', (w * 1e7 + i * 500 + j) % 5e6));
      const r = await post(url, SERVICE_API_KEY, ndjson(batch));
      offered += 500;
      answers[String(r.status)] = (answers[String(r.status)] ?? 0) + 1;
      if (r.status === 429 && !(Number(r.retryAfter) >= 1)) badRetryAfter++;
      // A well-behaved client would wait Retry-After; a noisy one comes back soon.
      await new Promise((res) => setTimeout(res, 20));
    }
  };
  const started = Date.now();
  await Promise.all([0, 1, 2, 3].map(worker));
  return { answers, offeredPerSecond: offered / ((Date.now() - started) / 1000), badRetryAfter };
}

async function main() {
  const stack = await startBenchStack(process.env['BENCH_KAFKA_VERSION'] ?? '3.9.2', log);
  const ch = createClient({ url: stack.clickhouseUrl, request_timeout: 120_000 });
  try {
    // 1. The hostile corpus through both doors.
    const database = 'tw_hostile';
    const topic = 'hostile.events';
    const service = await startService({
      TOKENWATCH_CLICKHOUSE_URL: stack.clickhouseUrl,
      TOKENWATCH_CLICKHOUSE_DATABASE: database,
      TOKENWATCH_KAFKA_BROKERS: stack.brokers,
      TOKENWATCH_KAFKA_TOPICS: topic,
      TOKENWATCH_KAFKA_DEAD_LETTER_TOPIC: `${topic}.dlq`,
      TOKENWATCH_KAFKA_FINDINGS_TOPIC: `${topic}.findings`,
      TOKENWATCH_KAFKA_TOPIC_PARTITIONS: '4',
      TOKENWATCH_BATCH_MAX_WAIT_MS: '200',
      TOKENWATCH_DETECT_DRY_RUN: 'refresh_replay,impossible_travel,device_reuse,verification_anomaly',
    });
    log(`hostile corpus: ${EVENTS} items, seed ${SEED} (BENCH_HOSTILE_SEED=${SEED} replays it)`);
    const report = await runHostile({
      url: service.url,
      apiKey: SERVICE_API_KEY,
      tenant: 'acme',
      clickhouse: ch,
      clickhouseUrl: stack.clickhouseUrl,
      database,
      kafka: new Kafka({ brokers: [stack.brokers], logLevel: logLevel.NOTHING }),
      topic,
      count: EVENTS,
      seed: SEED,
      settleMs: 600_000,
      log,
    });
    await stopService(service.child);
    log(`${report.items} items in ${report.seconds.toFixed(0)} s, ${report.violations.length} violations`);
    for (const v of report.violations) log(`VIOLATION ${v}`);

    // 2. A quiet tenant beside a noisy one, in single-process mode (a 200 means stored).
    const fair = await startService({
      TOKENWATCH_CLICKHOUSE_URL: stack.clickhouseUrl,
      TOKENWATCH_CLICKHOUSE_DATABASE: 'tw_fair',
      TOKENWATCH_API_KEYS: `acme:${SERVICE_API_KEY},quiet:${QUIET_KEY}`,
      TOKENWATCH_TENANT_EVENTS_PER_SECOND: String(QUOTA),
      TOKENWATCH_TENANT_BURST_SECONDS: '1',
      TOKENWATCH_HTTP_MAX_EVENTS_PER_REQUEST: '1000',
      TOKENWATCH_DETECT: 'false',
    });
    const unloaded: number[] = [];
    const loaded: number[] = [];
    const noisyAnswers: Record<string, number> = {};
    let offered = 0;
    let badRetryAfter = 0;
    for (let round = 0; round < ROUNDS; round++) {
      unloaded.push(...(await quietTraffic(fair.url, PHASE_S, round * 2e6)));
      let stop = false;
      const noisy = noisyTraffic(fair.url, () => stop);
      loaded.push(...(await quietTraffic(fair.url, PHASE_S, round * 2e6 + 1e6)));
      stop = true;
      const n = await noisy;
      for (const [k, v] of Object.entries(n.answers)) noisyAnswers[k] = (noisyAnswers[k] ?? 0) + v;
      offered += n.offeredPerSecond / ROUNDS;
      badRetryAfter += n.badRetryAfter;
      log(
        `round ${round + 1}/${ROUNDS}: quiet p99 ${quantile(unloaded, 0.99).toFixed(1)} ms alone, ${quantile(loaded, 0.99).toFixed(1)} ms beside the noisy tenant`,
      );
    }
    await stopService(fair.child);

    const p = (xs: number[], q: number) => Math.round(quantile(xs, q) * 10) / 10;
    const results = {
      hostile: { ...report, classes: report.classes },
      fairness: {
        quotaPerSecond: QUOTA,
        noisyOfferedPerSecond: Math.round(offered),
        noisyAnswers,
        badRetryAfter,
        quiet: {
          unloaded: { requests: unloaded.length, p50: p(unloaded, 0.5), p99: p(unloaded, 0.99) },
          loaded: { requests: loaded.length, p50: p(loaded, 0.5), p99: p(loaded, 0.99) },
        },
      },
    };
    const headlines = [
      headline({
        figure: 'hostile corpus: event loop held at most',
        value: report.maxEventLoopBlockedMs,
        unit: 'ms',
        baseline: 'an idle Node process: timer lateness meanwhile',
        baselineValue: report.idleProcessDelayMs,
        note: `${report.items} items (${report.hostile} hostile) in ${CLASS_COUNT} classes, ${report.violations.length} violations; goal ≤ 100 ms`,
      }),
      headline({
        figure: 'quiet tenant p99 ingest latency beside a noisy one at 10x quota',
        value: p(loaded, 0.99),
        unit: 'ms',
        baseline: 'the same quiet traffic alone',
        baselineValue: p(unloaded, 0.99),
        note: 'goal: ratio ≤ 2',
      }),
    ];
    const cls = report.classes.map((c) => `| ${c.door} | ${c.cls} | ${c.expect} | ${c.count} |`).join('\n');
    const section = `## Hostile input (npm run bench:hostile)

${machine(`ClickHouse 18.16, Kafka ${process.env['BENCH_KAFKA_VERSION'] ?? '3.9.2'}, everything on this machine`)}; ${new Date().toISOString().slice(0, 10)}.

**The corpus through both doors** (Kafka mode, detectors in dry-run; seed ${SEED}: \`BENCH_HOSTILE_SEED=${SEED} BENCH_HOSTILE_EVENTS=${EVENTS} npm run bench:hostile\` replays it): ${report.items} items, ${report.hostile} of a hostile class, ${report.good} to be stored, in ${report.seconds.toFixed(0)} s. HTTP answers: ${JSON.stringify(report.http.statuses)}. Violations of the contract: **${report.violations.length}**${report.violations.length > 0 ? ` (${report.violations.slice(0, 5).join('; ')})` : ''}.

| figure | value | baseline (same run) |
|---|---|---|
| event loop held at most (main-thread CPU of the longest late 10 ms tick) | ${report.maxEventLoopBlockedMs} ms | an idle Node process's timers: at most ${report.idleProcessDelayMs} ms late |
| the service's timers at most late (nodejs_eventloop_lag_max_seconds: includes time the OS gave others) | ${report.maxEventLoopDelayMs} ms | ${report.idleProcessDelayMs} ms |
| /healthz, slowest of ${report.healthz.probes} probes | ${report.healthz.maxMs} ms | ${report.healthz.failures} failed |

**Fairness** (single-process mode, a 200 means stored): the noisy tenant offered ${Math.round(offered)} events/s against a quota of ${QUOTA}/s; it was answered ${JSON.stringify(noisyAnswers)}${badRetryAfter > 0 ? ` (${badRetryAfter} 429s without a usable Retry-After)` : ', every 429 with Retry-After'}. The quiet tenant (100 events per request, 5 requests/s), ${ROUNDS} rounds of ${PHASE_S} s alone then ${PHASE_S} s beside the noisy one:

| quiet tenant | requests | p50 | p99 |
|---|---|---|---|
| alone | ${unloaded.length} | ${p(unloaded, 0.5)} ms | ${p(unloaded, 0.99)} ms |
| beside the noisy tenant | ${loaded.length} | ${p(loaded, 0.5)} ms | ${p(loaded, 0.99)} ms |
| ratio | | ${(p(loaded, 0.5) / p(unloaded, 0.5)).toFixed(2)} | **${(p(loaded, 0.99) / p(unloaded, 0.99)).toFixed(2)}** (goal ≤ 2) |

<details><summary>Classes of the corpus (door, class, what must become of it, items)</summary>

| door | class | expected | items |
|---|---|---|---|
${cls}

</details>
`;
    writeResults('Hostile input (npm run bench:hostile)', section, 'hostile', {
      headline: headlines,
      machine: machine(''),
      results,
    });
    console.log(section);
    if (report.violations.length > 0) process.exitCode = 1;
  } finally {
    await ch.close();
    await stack.stop();
  }
}

main().catch((err: Error) => {
  console.error(`[bench:hostile] failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
