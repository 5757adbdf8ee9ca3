/**
 * `npm run bench:sdk`: verifications/s through the SDK's `createVerifier` — every call reported through
 * the HTTP reporter to a real HTTP sink (a child process that inflates and counts, answering like
 * tokenwatch, which says it takes zstd) and checked against a denylist of 10,000 entries — beside bare jose `jwtVerify` on the
 * same tokens in the same run, for EdDSA, ES256 and RS256 (1,000 distinct real tokens each). Goal:
 * overhead ≤ 5%. Also: every reported event reached the sink (the reporter flushed, counts compared),
 * and throughput with the sink down (reporter on a closed port, its queue full and dropping). And the
 * denylist's eviction: notices/s applied to a full denylist (each pushes the soonest-expiring entry
 * out) beside notices/s applied to one with room, at 10,000 and 500,000 entries (O(1): the same).
 *
 * Method: CONCURRENCY verifications in flight on one event loop: a server verifies many requests at
 * once, and jose's signature checks are WebCrypto jobs that largely run off the main thread, so one
 * awaited call at a time leaves cores idle and measures latency, not capacity. After a warm-up, rounds
 * interleave the variants (their order rotated each round) so machine noise hits them alike. Overhead
 * is the median of the rounds' own overheads (each SDK phase against the baseline phase of its round),
 * in throughput and in CPU time per verification of the bench process (all threads, the sending of
 * what the phase reported included: the reporter is flushed inside the phase's CPU window); the CPU
 * figure is the steadier one on a shared machine, whose other load moves throughput but not the CPU
 * one verification takes. The sink's CPU is shown apart.
 *
 *   BENCH_SDK_SECONDS (1)       seconds per variant per round
 *   BENCH_SDK_ROUNDS (12)       rounds of (baseline, SDK + HTTP, SDK with the sink down[, SDK + Kafka])
 *   BENCH_SDK_CONCURRENCY (16)  verifications in flight
 *   BENCH_SDK_ALGORITHMS (EdDSA,ES256,RS256)  the algorithms measured (comma-separated; fewer: a quicker run)
 *   BENCH_SDK_KAFKA (unset)     also the Kafka reporter: `stack` (brokers from .state/stack.env, see
 *                               `npm run stack`) or a broker list such as 127.0.0.1:19092
 * Writes tools/bench/results/sdk.json and the "SDK overhead" section of tools/bench/RESULTS.md.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { type CryptoKey, generateKeyPair, type JWTVerifyOptions, jwtVerify, SignJWT } from 'jose';
import {
  type BatchingReporter,
  createHttpReporter,
  createVerifier,
  Denylist,
  type SdkLogger,
} from '../../sdk/src/index.ts';
import { STACK_ENV_FILE } from '../local-stack/paths.ts';
import { freePort } from '../local-stack/process.ts';
import { type Headline, headline, machine, median, writeResults } from './support.ts';

const SECONDS = Number(process.env['BENCH_SDK_SECONDS'] ?? 1);
const ROUNDS = Number(process.env['BENCH_SDK_ROUNDS'] ?? 12);
const CONCURRENCY = Number(process.env['BENCH_SDK_CONCURRENCY'] ?? 16);
const KAFKA = process.env['BENCH_SDK_KAFKA'] ?? '';
const ALL_ALGORITHMS = ['EdDSA', 'ES256', 'RS256'];
const ALGORITHMS = (process.env['BENCH_SDK_ALGORITHMS'] ?? ALL_ALGORITHMS.join(','))
  .split(',')
  .map((a) => a.trim())
  .filter((a) => a !== '');
const unknownAlgorithm = ALGORITHMS.find((a) => !ALL_ALGORITHMS.includes(a));
if (unknownAlgorithm !== undefined || ALGORITHMS.length === 0)
  throw new Error(
    `BENCH_SDK_ALGORITHMS must list some of ${ALL_ALGORITHMS.join(', ')}; got ${JSON.stringify(process.env['BENCH_SDK_ALGORITHMS'])}`,
  );
const TOKENS_PER_ALG = 1_000;
const DENYLIST_ENTRIES = 10_000;
const WARMUP_SECONDS = 1;
const GOAL_OVERHEAD = 0.05;
const ISSUER = 'https://auth.example.test';
const AUDIENCE = 'orders-api';
const TENANT = 'acme';
const SINK_API_KEY = 'bench-sdk-0123456789abcdef';
const log = (msg: string) => console.error(`[bench:sdk] ${msg}`);

// ---------------------------------------------------------------------------------------------
// The sink: a child process, so its CPU is not on the benchmark's thread. It checks the key,
// inflates (zstd or gzip), counts the events and discards them, and answers as tokenwatch's
// POST /v1/events does.

function runSink() {
  const totals = { events: 0, batches: 0, bytes: 0, cpuUs: 0, codings: {} as Record<string, number> };
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/count') {
      const cpu = process.cpuUsage();
      totals.cpuUs = cpu.user + cpu.system;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(totals));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/events') {
        res.statusCode = 404;
        res.end();
        return;
      }
      if (req.headers.authorization !== `Bearer ${SINK_API_KEY}`) {
        res.statusCode = 401;
        res.end('{"error":"unknown API key"}');
        return;
      }
      let body = Buffer.concat(chunks);
      totals.bytes += body.length;
      const coding = req.headers['content-encoding'] ?? 'identity';
      totals.codings[coding] = (totals.codings[coding] ?? 0) + 1;
      // synchronous: cheaper in CPU than the thread pool's round trips, and a sink may block
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      else if (req.headers['content-encoding'] === 'zstd') body = zstdDecompressSync(body);
      // one `"event_id":` per event (the SDK writes it first in each object); cheaper than a parse
      const text = body.toString('utf8');
      let n = 0;
      for (let at = text.indexOf('"event_id":'); at !== -1; at = text.indexOf('"event_id":', at + 11)) n++;
      totals.events += n;
      totals.batches++;
      res.setHeader('content-type', 'application/json');
      // as tokenwatch's door says (RFC 7694): the reporter's default compression moves to zstd
      res.setHeader('accept-encoding', 'zstd, gzip');
      res.end(JSON.stringify({ accepted: n, rejected: 0, errors: [] }));
    });
  });
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  // The parent gone (even killed), the channel closes: never outlive it.
  process.on('disconnect', () => process.exit(0));
}

interface SinkTotals {
  events: number;
  batches: number;
  bytes: number;
  /** the sink process's CPU so far, µs */
  cpuUs: number;
  /** requests by Content-Encoding */
  codings: Record<string, number>;
}

interface Sink {
  url: string;
  child: ChildProcess;
  totals(): Promise<SinkTotals>;
}

async function startSink(): Promise<Sink> {
  const child = fork(fileURLToPath(import.meta.url), ['sink'], {
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`sink exited with ${code}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    child,
    async totals() {
      const res = await fetch(`${url}/count`);
      return (await res.json()) as SinkTotals;
    },
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  return exited;
}

// ---------------------------------------------------------------------------------------------
// Measurement

interface Phase {
  verifications: number;
  perSecond: number;
  /** process CPU (all threads: main, crypto and zlib pool) per verification, `settle` included, µs */
  cpuUs: number;
  /** the main thread's event-loop utilization during the phase (0..1) */
  elu: number;
}

/**
 * `verify` over the token pool with CONCURRENCY calls in flight for `seconds`; then `settle` (the
 * reporter's flush: sending what the phase reported is part of its CPU, not of its throughput).
 */
async function drive(
  verify: (token: string) => Promise<unknown>,
  tokens: string[],
  seconds: number,
  settle?: () => Promise<void>,
) {
  let next = 0;
  let done = 0;
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      await verify(tokens[next++ % tokens.length]!);
      done++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsedS = (performance.now() - t0) / 1000;
  await settle?.();
  const cpu = process.cpuUsage(cpu0);
  return {
    verifications: done,
    perSecond: done / elapsedS,
    cpuUs: (cpu.user + cpu.system) / done,
    elu: performance.eventLoopUtilization(elu0).utilization,
  } satisfies Phase;
}

type VariantKey = 'baseline' | 'none' | 'http' | 'gzip' | 'plain' | 'down' | 'kafka';

/** What a sink has taken so far. */
interface Taken {
  events: number;
  /** requests (HTTP) */
  batches?: number;
  /** the sink process's CPU, µs */
  cpuUs?: number;
}

interface Variant {
  key: VariantKey;
  name: string;
  verify: (token: string) => Promise<unknown>;
  /** what the sink has taken so far (call after `settle`); where there is a sink */
  taken?: () => Promise<Taken>;
  /** sends what was reported (the reporter's flush) */
  settle?: () => Promise<void>;
  reporter?: BatchingReporter;
}

interface Measured extends Phase {
  round: number;
  /** events the sink took during the phase (the reporter flushed at its end) */
  delivered?: number;
  /** requests the sink took during the phase */
  batches?: number;
  /** the sink process's CPU per verification, µs */
  sinkCpuUs?: number;
  droppedQueueFull?: number;
}

const phaseOf = async (v: Variant, tokens: string[], seconds: number, round: number): Promise<Measured> => {
  await v.settle?.();
  const before = await v.taken?.();
  const droppedBefore = v.reporter?.stats().dropped.queue_full ?? 0;
  const phase = await drive(v.verify, tokens, seconds, v.settle);
  const measured: Measured = { round, ...phase };
  if (v.reporter) measured.droppedQueueFull = v.reporter.stats().dropped.queue_full - droppedBefore;
  if (v.taken && before) {
    const after = await v.taken();
    measured.delivered = after.events - before.events;
    if (after.batches !== undefined) measured.batches = after.batches - (before.batches ?? 0);
    if (after.cpuUs !== undefined)
      measured.sinkCpuUs = (after.cpuUs - (before.cpuUs ?? 0)) / phase.verifications;
  }
  return measured;
};

// ---------------------------------------------------------------------------------------------
// Set-up: keys, tokens, denylist, reporters

async function tokensFor(alg: string, privateKey: CryptoKey, kid: string): Promise<string[]> {
  const now = Math.floor(Date.now() / 1000);
  const tokens: string[] = [];
  for (let i = 0; i < TOKENS_PER_ALG; i++)
    tokens.push(
      await new SignJWT({
        sid: `sess-${i}`,
        client_id: `client-${i % 20}`,
        scope: 'orders:read orders:write',
      })
        .setProtectedHeader({ alg, kid, typ: 'at+jwt' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(`user-${i}`)
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .sign(privateKey),
    );
  return tokens;
}

/** Entries for ids the pool's tokens do not carry: every lookup is real and misses, as most do. */
function filledDenylist(): Denylist {
  const denylist = new Denylist({ maxEntries: DENYLIST_ENTRIES * 2 });
  const now = Date.now();
  const targets = ['jti', 'session', 'subject', 'family'] as const;
  for (let i = 0; i < DENYLIST_ENTRIES; i++)
    denylist.apply({
      version: 1,
      revocation_id: randomUUID(),
      tenant: TENANT,
      subject: `revoked-user-${i}`,
      target: targets[i % targets.length],
      id: i % 4 === 2 ? `revoked-user-${i}` : randomUUID(),
      expires_at_ms: now + 3_600_000,
      revoked_at_ms: now,
    });
  if (denylist.size !== DENYLIST_ENTRIES) throw new Error(`denylist holds ${denylist.size} entries`);
  return denylist;
}

/** The SDK's warnings, as progress lines. */
const benchLogger = (who: string): SdkLogger => {
  const line = (level: string) => (_fields: object, message: string) =>
    log(`  (${who} ${level}: ${message})`);
  return { info: line('info'), warn: line('warn'), error: line('error') };
};

function kafkaBrokers(): string[] {
  if (KAFKA !== 'stack' && KAFKA !== '1' && KAFKA !== 'true') return KAFKA.split(',').map((b) => b.trim());
  let env: string;
  try {
    env = readFileSync(STACK_ENV_FILE, 'utf8');
  } catch {
    throw new Error(`BENCH_SDK_KAFKA=${KAFKA}: ${STACK_ENV_FILE} is missing; run \`npm run stack\` first`);
  }
  const brokers = /^TOKENWATCH_KAFKA_BROKERS=(.+)$/m.exec(env)?.[1];
  if (brokers === undefined) throw new Error(`${STACK_ENV_FILE} names no TOKENWATCH_KAFKA_BROKERS`);
  return brokers.split(',').map((b) => b.trim());
}

interface KafkaSide {
  reporter: BatchingReporter;
  topic: string;
  /** messages appended to the topic so far (sum of the partitions' end offsets) */
  messages(): Promise<number>;
  stop(): Promise<void>;
}

async function startKafkaSide(brokers: string[]): Promise<KafkaSide> {
  const { Kafka, logLevel } = await import('kafkajs');
  const { createKafkaReporter } = await import('../../sdk/src/kafka.ts');
  const kafka = new Kafka({ brokers, clientId: 'bench-sdk', logLevel: logLevel.NOTHING });
  const topic = `bench.sdk.${Date.now()}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
  const reporter = createKafkaReporter({ brokers, topic, logger: benchLogger('kafka reporter') });
  return {
    reporter,
    topic,
    async messages() {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.reduce((sum, p) => sum + Number(p.high), 0);
    },
    async stop() {
      await reporter.close();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    },
  };
}

// ---------------------------------------------------------------------------------------------

interface AlgResult {
  alg: string;
  variants: { key: VariantKey; name: string; rounds: Measured[] }[];
}

async function main() {
  const loadAtStart = loadavg()[0]!;
  let sink: Sink | undefined;
  let kafkaSide: KafkaSide | undefined;
  const cleanUp = async () => {
    if (sink) await stopChild(sink.child);
  };
  // last resort (an exit on any path): the sink never outlives the bench
  process.once('exit', () => sink?.child.kill());
  process.once('SIGINT', () => {
    log('interrupted: stopping the sink');
    void cleanUp().finally(() => process.exit(130));
  });

  const denylist = filledDenylist();
  let httpDropped: Record<string, number> = {};
  let http: BatchingReporter | undefined;
  let gzip: BatchingReporter | undefined;
  let plain: BatchingReporter | undefined;
  let down: BatchingReporter | undefined;
  const results: AlgResult[] = [];
  try {
    sink = await startSink();
    const theSink = sink;
    log(
      `sink (child pid ${sink.child.pid}) on ${sink.url}; denylist of ${denylist.size.toLocaleString('en')} entries`,
    );
    http = createHttpReporter({ url: sink.url, apiKey: SINK_API_KEY, logger: benchLogger('http reporter') });
    // gzip: what the SDK sent before zstd, and sends to a tokenwatch that does not take zstd
    gzip = createHttpReporter({
      url: sink.url,
      apiKey: SINK_API_KEY,
      compression: 'gzip',
      logger: benchLogger('http reporter, gzip'),
    });
    plain = createHttpReporter({
      url: sink.url,
      apiKey: SINK_API_KEY,
      compression: 'none',
      logger: benchLogger('http reporter, uncompressed'),
    });
    // tokenwatch down: a port nothing listens on (taken and released)
    const closedPort = await freePort();
    down = createHttpReporter({
      url: `http://127.0.0.1:${closedPort}`,
      apiKey: SINK_API_KEY,
      closeTimeoutMs: 0,
      logger: benchLogger('reporter with the sink down'),
    });
    if (KAFKA !== '') {
      const brokers = kafkaBrokers();
      log(`Kafka reporter to ${brokers.join(',')}`);
      kafkaSide = await startKafkaSide(brokers);
      log(`  topic ${kafkaSide.topic} (6 partitions)`);
    }

    for (const alg of ALGORITHMS) {
      const kid = `${alg}-bench`;
      const { privateKey, publicKey } = await generateKeyPair(alg);
      log(`${alg}: signing ${TOKENS_PER_ALG.toLocaleString('en')} tokens`);
      const tokens = await tokensFor(alg, privateKey, kid);
      const bareOptions: JWTVerifyOptions = { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg] };
      const sdkVerifier = (reporter: BatchingReporter | undefined) =>
        createVerifier({
          issuer: ISSUER,
          audience: AUDIENCE,
          key: publicKey,
          algorithms: [alg],
          ...(reporter !== undefined ? { reporter } : {}),
          denylist,
          tenant: TENANT,
          source: 'bench-sdk',
        });
      const caller = {
        ip: '203.0.113.7',
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0',
      };
      const viaNone = sdkVerifier(undefined);
      const viaDown = sdkVerifier(down);
      /** The SDK reporting over HTTP to the sink through `reporter`. */
      const toSink = (key: VariantKey, name: string, reporter: BatchingReporter): Variant => {
        const verifier = sdkVerifier(reporter);
        return {
          key,
          name,
          verify: (t) => verifier.verify(t, caller),
          reporter,
          settle: () => reporter.flush(),
          taken: () => theSink.totals(),
        };
      };
      const variants: Variant[] = [
        { key: 'baseline', name: 'bare jwtVerify', verify: (t) => jwtVerify(t, publicKey, bareOptions) },
        toSink('http', 'SDK + HTTP reporter', http),
        // the cost apart: the verifier and its denylist without reporting; gzip; no compression
        { key: 'none', name: 'SDK, no reporter', verify: (t) => viaNone.verify(t, caller) },
        toSink('gzip', 'SDK + HTTP reporter, gzip', gzip),
        toSink('plain', 'SDK + HTTP reporter, uncompressed', plain),
        { key: 'down', name: 'SDK, sink down', verify: (t) => viaDown.verify(t, caller), reporter: down },
      ];
      if (kafkaSide) {
        const side = kafkaSide;
        const viaKafka = sdkVerifier(side.reporter);
        variants.push({
          key: 'kafka',
          name: 'SDK + Kafka reporter',
          verify: (t) => viaKafka.verify(t, caller),
          reporter: side.reporter,
          settle: () => side.reporter.flush(),
          taken: async () => ({ events: await side.messages() }),
        });
      }

      // Warm-up: each variant, and the down reporter until its queue is full and dropping.
      for (const v of variants) {
        const w = await phaseOf(v, tokens, WARMUP_SECONDS, -1);
        log(`  warm-up ${v.name}: ${Math.round(w.perSecond).toLocaleString('en')}/s`);
      }
      while (down.stats().dropped.queue_full === 0) await drive(viaDown.verify, tokens, 0.2);

      const rounds = new Map<VariantKey, Measured[]>(variants.map((v) => [v.key, []]));
      for (let round = 0; round < ROUNDS; round++) {
        const order = [
          ...variants.slice(round % variants.length),
          ...variants.slice(0, round % variants.length),
        ];
        const line: string[] = [];
        for (const v of order) {
          const m = await phaseOf(v, tokens, SECONDS, round);
          rounds.get(v.key)!.push(m);
          line.push(
            `${v.key} ${Math.round(m.perSecond).toLocaleString('en')}/s (CPU ${m.cpuUs.toFixed(0)} µs` +
              (m.sinkCpuUs !== undefined ? ` + sink ${m.sinkCpuUs.toFixed(1)} µs` : '') +
              (m.batches ? `, ${Math.round(m.verifications / m.batches)} events/request` : '') +
              ')',
          );
          if (m.delivered !== undefined && m.delivered !== m.verifications)
            log(`  ${v.name}: ${m.delivered} events reached the sink for ${m.verifications} verifications`);
        }
        log(`  ${alg} round ${round + 1}/${ROUNDS}: ${line.join(', ')}`);
      }
      results.push({
        alg,
        variants: variants.map((v) => ({ key: v.key, name: v.name, rounds: rounds.get(v.key)! })),
      });
    }
    httpDropped = http.stats().dropped;
    log(`requests the sink took, by Content-Encoding: ${JSON.stringify((await theSink.totals()).codings)}`);
  } finally {
    await http?.close();
    await gzip?.close();
    await plain?.close();
    await down?.close();
    await kafkaSide?.stop();
    denylist.close();
    await cleanUp();
  }
  const load = { start: loadAtStart, end: loadavg()[0]! };
  report(results, httpDropped, denylist.size, measureEviction(), load);
}

// ---------------------------------------------------------------------------------------------

/** One SDK variant of one algorithm, beside its baseline: medians of rounds. */
interface Row {
  alg: string;
  key: VariantKey;
  name: string;
  perSecond: number;
  baseline: number;
  /** throughput: median of roundOverheads */
  overhead: number;
  /** each round's overhead against that round's baseline (1 − SDK/baseline) */
  roundOverheads: number[];
  /** CPU per verification: median of the rounds' SDK/baseline − 1 */
  cpuOverhead: number;
  roundCpuOverheads: number[];
  /** 1/SDK − 1/baseline, µs */
  addedUs: number;
  /** CPU per verification of the bench process (median of rounds), µs */
  cpuUs: number;
  baselineCpuUs: number;
  /** CPU per verification of the sink process (median of rounds), µs */
  sinkCpuUs?: number;
  verifications: number;
  delivered?: number;
  batches?: number;
  droppedQueueFull: number;
}

const REPORTER_NAMES: Partial<Record<VariantKey, string>> = {
  http: 'HTTP',
  gzip: 'HTTP, gzip',
  plain: 'HTTP, uncompressed',
  kafka: 'Kafka (topic end offsets)',
};

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** Verifications/s of each reporting variant beside bare jwtVerify, with its overhead against the goal. */
function headlines(reporting: Row[]): Headline[] {
  return reporting.map((r) => {
    const goal = `goal ≤ ${pct(GOAL_OVERHEAD)}: ${r.overhead <= GOAL_OVERHEAD ? 'met' : 'NOT met'}`;
    const delivery =
      r.delivered === r.verifications ? 'every event reached the sink' : 'NOT every event reached the sink';
    return headline({
      figure: `${r.alg} verifications/s, ${r.name}`,
      value: r.perSecond,
      unit: 'verif/s',
      baseline: 'bare jose jwtVerify, same tokens',
      baselineValue: r.baseline,
      ratio: 1 - r.overhead,
      note: `overhead ${pct(r.overhead)} (${goal}), CPU per verification +${pct(r.cpuOverhead)}; ${delivery}`,
    });
  });
}

interface Eviction {
  entries: number;
  /** notices/s into a denylist with room (no eviction) */
  roomPerSecond: number;
  /** notices/s into a full one: every notice pushes one entry out */
  fullPerSecond: number;
  evicted: number;
}

/** Notices/s applied to a denylist with room and to a full one of `entries`, medians of 5 rounds. */
function measureEviction(): Eviction[] {
  const quiet: SdkLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const now = Date.now();
  const HOUR = 3_600_000;
  const notice = (i: number) => ({
    version: 1,
    revocation_id: `rev-${i}`,
    tenant: TENANT,
    subject: `user-${i % 1000}`,
    target: 'jti',
    id: `jti-${i}`,
    // spread over a day, so the full denylist evicts across many expiry minutes
    expires_at_ms: now + HOUR + ((i * 7919) % (24 * HOUR)),
    revoked_at_ms: now,
  });
  const APPLIED = 100_000;
  return [10_000, 500_000].map((entries) => {
    const rate = (full: boolean) => {
      const rounds: number[] = [];
      let evicted = 0;
      for (let round = 0; round < 5; round++) {
        const d = new Denylist({ maxEntries: full ? entries : entries + APPLIED, logger: quiet });
        for (let i = 0; i < entries; i++) d.apply(notice(i), now);
        const start = process.hrtime.bigint();
        for (let i = entries; i < entries + APPLIED; i++) d.apply(notice(i), now);
        rounds.push(APPLIED / (Number(process.hrtime.bigint() - start) / 1e9));
        evicted = d.stats().evicted;
        d.close();
      }
      return { perSecond: median(rounds), evicted };
    };
    const room = rate(false);
    const full = rate(true);
    log(
      `eviction at ${entries}: ${Math.round(full.perSecond)}/s full vs ${Math.round(room.perSecond)}/s with room`,
    );
    return { entries, roomPerSecond: room.perSecond, fullPerSecond: full.perSecond, evicted: full.evicted };
  });
}

function report(
  results: AlgResult[],
  httpDropped: Record<string, number>,
  denylistEntries: number,
  eviction: Eviction[],
  /** the machine's 1-minute load average when the rounds began and ended */
  load: { start: number; end: number },
) {
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const fmt = (n: number) => Math.round(n).toLocaleString('en');
  const us = (x: number) => x.toFixed(1);
  const sdkKeys = ['none', 'http', 'gzip', 'plain', 'kafka', 'down'] as const;

  const rows: Row[] = [];
  for (const r of results) {
    const base = r.variants.find((v) => v.key === 'baseline')!;
    const baseline = median(base.rounds.map((m) => m.perSecond));
    const baselineCpuUs = median(base.rounds.map((m) => m.cpuUs));
    for (const key of sdkKeys) {
      const v = r.variants.find((x) => x.key === key);
      if (v === undefined) continue;
      const perSecond = median(v.rounds.map((m) => m.perSecond));
      const roundOverheads = v.rounds.map((m, i) => 1 - m.perSecond / base.rounds[i]!.perSecond);
      const roundCpuOverheads = v.rounds.map((m, i) => m.cpuUs / base.rounds[i]!.cpuUs - 1);
      const sum = (f: (m: Measured) => number | undefined) => v.rounds.reduce((s, m) => s + (f(m) ?? 0), 0);
      const has = (f: (m: Measured) => number | undefined) => v.rounds.every((m) => f(m) !== undefined);
      rows.push({
        alg: r.alg,
        key,
        name: v.name,
        perSecond,
        baseline,
        overhead: median(roundOverheads),
        roundOverheads,
        cpuOverhead: median(roundCpuOverheads),
        roundCpuOverheads,
        addedUs: 1e6 / perSecond - 1e6 / baseline,
        cpuUs: median(v.rounds.map((m) => m.cpuUs)),
        baselineCpuUs,
        sinkCpuUs: has((m) => m.sinkCpuUs) ? median(v.rounds.map((m) => m.sinkCpuUs!)) : undefined,
        verifications: sum((m) => m.verifications),
        delivered: has((m) => m.delivered) ? sum((m) => m.delivered) : undefined,
        batches: has((m) => m.batches) ? sum((m) => m.batches) : undefined,
        droppedQueueFull: sum((m) => m.droppedQueueFull),
      });
    }
  }
  const spread = (xs: number[]) => `${pct(Math.min(...xs))} … ${pct(Math.max(...xs))}`;
  const reporting = rows.filter((r) => r.key !== 'none' && r.key !== 'down');
  const measured = rows.filter((r) => r.key !== 'down');
  const goalRows = rows.filter((r) => r.key === 'http');
  const met = goalRows.every((r) => r.overhead <= GOAL_OVERHEAD);
  const cpuMet = goalRows.every((r) => r.cpuOverhead <= GOAL_OVERHEAD);
  const worst = goalRows.reduce((a, b) => (b.overhead > a.overhead ? b : a));
  const lossless = reporting.every((r) => r.delivered === r.verifications && r.droppedQueueFull === 0);
  const accounted = reporting.every((r) => (r.delivered ?? 0) + r.droppedQueueFull === r.verifications);
  const baselineElu = median(
    results.flatMap((r) => r.variants.find((v) => v.key === 'baseline')!.rounds.map((m) => m.elu)),
  );
  const cpuCell = (r: Row) =>
    `${us(r.baselineCpuUs)} → ${us(r.cpuUs)} (+${us(r.cpuUs - r.baselineCpuUs)})` +
    (r.sinkCpuUs !== undefined ? ` + sink ${us(r.sinkCpuUs)}` : '');
  const machineNote = machine(`jose ${joseVersion()}`);

  const section = [
    '## SDK overhead',
    '',
    `\`npm run bench:sdk\` (BENCH_SDK_SECONDS=${SECONDS}, BENCH_SDK_ROUNDS=${ROUNDS}, BENCH_SDK_CONCURRENCY=${CONCURRENCY}` +
      `${ALGORITHMS.length < ALL_ALGORITHMS.length ? `, BENCH_SDK_ALGORITHMS=${ALGORITHMS.join(',')}` : ''}` +
      `${KAFKA !== '' ? `, BENCH_SDK_KAFKA=${KAFKA}` : ''}) on ${date} UTC; ${machineNote}; ` +
      `the HTTP sink (a child process)${KAFKA !== '' ? ' and Kafka' : ''} on the same machine, sharing its cores; ` +
      `load average (1 min) ${load.start.toFixed(1)} at the start, ${load.end.toFixed(1)} at the end of the rounds (above the core count, other work shares the cores and moves the rates).`,
    `Verifications/s of \`createVerifier\` (a denylist of ${denylistEntries.toLocaleString('en')} entries checked, every call reported, caller ip and user agent given) ` +
      `beside bare jose \`jwtVerify(token, key, { issuer, audience, algorithms })\` on the same ${TOKENS_PER_ALG.toLocaleString('en')} distinct tokens per algorithm, ` +
      `${CONCURRENCY} verifications in flight on one event loop (a server verifies many requests at once; jose's signature checks are WebCrypto jobs, largely off the main thread). ` +
      `After a ${WARMUP_SECONDS} s warm-up per variant, ${ROUNDS} rounds of ${SECONDS} s per variant, interleaved, the order rotated each round. ` +
      "Overhead = the median of the rounds' own overheads, 1 − SDK / baseline, each round against its own baseline (spread: per round); " +
      "CPU = process CPU time (all threads: main, crypto and zlib pool) per verification, the reporter's flush at the end of each phase included, the sink's apart; " +
      "CPU overhead = the median of the rounds' SDK CPU / baseline CPU − 1 (steadier than throughput on a shared machine: other load moves the rate, not the CPU a verification takes); " +
      'added µs = 1/SDK − 1/baseline at these rates (medians). ' +
      "Beside the SDK as used (the HTTP reporter at its defaults: batches of up to 2,000 events within a 20 ms linger, compressed on the event loop up to 512 KiB, zstd once the sink's answer says it takes it, as tokenwatch's does: the goal), the cost apart: the SDK without a reporter (the verifier and its denylist), with gzip (what the SDK sent before zstd, and sends to a tokenwatch without it) and uncompressed. " +
      "The sink inflates and counts the events and answers like tokenwatch's POST /v1/events.",
    '',
    '| alg | variant | baseline verif/s | SDK verif/s | overhead | per round | added µs/verif | CPU µs/verif: baseline → SDK (+ sink) | CPU overhead | per round |',
    '|---|---|---:|---:|---:|---|---:|---|---:|---|',
    ...measured.map(
      (r) =>
        `| ${r.alg} | ${r.name} | ${fmt(r.baseline)} | ${fmt(r.perSecond)} | ${pct(r.overhead)} | ` +
        `${spread(r.roundOverheads)} | ${us(r.addedUs)} | ${cpuCell(r)} | ${pct(r.cpuOverhead)} | ${spread(r.roundCpuOverheads)} |`,
    ),
    '',
    `Goal: overhead ≤ ${pct(GOAL_OVERHEAD)} with HTTP reporting — ${met ? 'met' : '**NOT met**'} in this run ` +
      `(${goalRows.map((r) => `${r.alg} ${pct(r.overhead)}`).join(', ')}; worst ${worst.alg}); ` +
      `in CPU per verification ${cpuMet ? 'met' : '**NOT met**'} ` +
      `(${goalRows.map((r) => `${r.alg} ${pct(r.cpuOverhead)}`).join(', ')}).`,
    '',
    'Delivery while the sink keeps up: events the sink counted (the reporter flushed at the end of each round) against the verifications of those rounds.',
    '',
    '| alg | reporter | verifications | events received | events per request | dropped |',
    '|---|---|---:|---:|---:|---:|',
    ...reporting.map(
      (r) =>
        `| ${r.alg} | ${REPORTER_NAMES[r.key]} | ${fmt(r.verifications)} | ` +
        `${r.delivered === undefined ? '–' : fmt(r.delivered)} | ${r.batches ? fmt(r.verifications / r.batches) : '–'} | ${fmt(r.droppedQueueFull)} |`,
    ),
    '',
    `${
      lossless
        ? 'Nothing lost: every verification reached the sink.'
        : accounted
          ? '**Not every event got through**: the reporters dropped some (their queue full: the sink did not keep up), each counted.'
          : '**EVENTS LOST** without being counted.'
    } The HTTP reporter's drops over the whole run, warm-ups included: ` +
      `queue full ${httpDropped['queue_full']}, refused ${httpDropped['refused']}, closed ${httpDropped['closed']}.`,
    '',
    'Sink down: the reporter pointed at a closed port, its queue (10,000) full and dropping the oldest, measured in every round beside the others.',
    '',
    '| alg | baseline verif/s | SDK verif/s, sink down | ratio | overhead per round | CPU µs/verif: baseline → SDK | events dropped |',
    '|---|---:|---:|---:|---|---|---:|',
    ...rows
      .filter((r) => r.key === 'down')
      .map(
        (r) =>
          `| ${r.alg} | ${fmt(r.baseline)} | ${fmt(r.perSecond)} | ${(r.perSecond / r.baseline).toFixed(3)} | ` +
          `${spread(r.roundOverheads)} | ${cpuCell(r)} | ${fmt(r.droppedQueueFull)} |`,
      ),
    '',
    `Main-thread event-loop utilization in the baseline rounds: ${pct(baselineElu)} (median).`,
    '',
    'Denylist eviction: 100,000 notices (new jtis, expiries spread over a day) applied to a full denylist — each pushes the entry expiring soonest out — beside the same applied to a denylist with room, medians of 5 rounds.',
    '',
    '| entries | notices/s with room | notices/s full (each evicts) | ratio | evicted |',
    '|---:|---:|---:|---:|---:|',
    ...eviction.map(
      (e) =>
        `| ${fmt(e.entries)} | ${fmt(e.roomPerSecond)} | ${fmt(e.fullPerSecond)} | ${(e.fullPerSecond / e.roomPerSecond).toFixed(2)} | ${fmt(e.evicted)} |`,
    ),
    '',
  ].join('\n');
  console.log(`\n${section}`);
  writeResults('SDK overhead', section, 'sdk', {
    headline: [
      ...headlines(reporting),
      ...eviction.map((e) =>
        headline({
          figure: `denylist notices/s when full (each evicts), ${e.entries.toLocaleString('en')} entries`,
          value: e.fullPerSecond,
          unit: 'notices/s',
          baseline: 'the same notices into a denylist with room',
          baselineValue: e.roomPerSecond,
        }),
      ),
    ],
    date,
    machine: machineNote,
    settings: {
      seconds: SECONDS,
      rounds: ROUNDS,
      concurrency: CONCURRENCY,
      kafka: KAFKA,
      tokensPerAlg: TOKENS_PER_ALG,
      denylistEntries,
    },
    goal: { overhead: GOAL_OVERHEAD, met, cpuMet },
    loadAverage: load,
    lossless,
    accounted,
    httpDropped,
    summary: rows,
    eviction,
    results,
  });
}

function joseVersion(): string {
  try {
    const pkg = readFileSync(new URL('../../node_modules/jose/package.json', import.meta.url), 'utf8');
    return (JSON.parse(pkg) as { version: string }).version;
  } catch {
    return '?';
  }
}

if (process.argv[2] === 'sink') runSink();
else
  main().catch((err: Error) => {
    console.error(`bench:sdk failed: ${err.stack ?? err.message}`);
    process.exit(1);
  });
