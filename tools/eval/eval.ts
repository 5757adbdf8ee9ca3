/**
 * `npm run eval`: detection quality on labelled traffic through the real pipeline. Brings up the
 * local stack (ClickHouse, Kafka), starts tokenwatch (Kafka mode, every detector in dry-run, the
 * simulated corporate VPN's egress allowlisted), runs the reference auth server in process on the
 * simulation's clock and SDK verifiers beside it (both reporting over Kafka), plays the simulated
 * day(s) with their attacks as fast as the machine allows, waits until tokenwatch has stored and
 * examined every event, and compares its findings with the labels.
 *
 *   npm run eval -- --users 2000 --days 1 --attacks 10 --seed tokenwatch
 *   npm run eval -- --instances 2 --shuffle
 *   npm run eval -- --door http
 *   npm run eval -- --hard --hard-users 100
 *
 * `--hard` adds the hard benign cases (tools/simulator/hard-cases.ts: consumer VPNs, Private Relay,
 * cloud proxies, roaming SIMs, in-flight Wi-Fi, mis-geolocated lines, DPoP-bound clients whose
 * verifiers check their proofs; `--hard-users` of each) to the
 * same seed's world, and reports per case the subjects with an alert and with a revocation (per
 * 1,000 per simulated day) beside each attack kind's recall, with the issue's goals; it writes the
 * "Detection quality, hard cases" section and results/eval-hard.json. Without it the run is the
 * one it always was. With it, before tokenwatch starts, the eval writes the simulated world's
 * networks as a GeoLite2-ASN .mmdb and a network-kinds file (tools/eval/ip-intel.ts) that the
 * instances read, and `--history-days` (default 14 with `--hard`, 0 without) days of learning
 * history before the window (tools/simulator/history.ts) into the eval database's `events` table
 * (tools/eval/history-writer.ts): a deployment has learned its users for weeks; without it the
 * eval's day would start every user as a stranger.
 * `--door http` runs tokenwatch in single-process mode and reports over POST /v1/events with the
 * reporters' own roles: the auth server with an `auth-server` key, the verifiers with a `verifier`
 * key (Kafka carries no key, so its events keep the rights of a key without a role).
 * `--instances N` runs N tokenwatch processes in one consumer group (each holds some partitions);
 * `--shuffle` delivers every event up to the allowed lateness late and 5% twice, as several producers,
 * batching and retries do. With either, the traffic is recorded first and then published to Kafka
 * (key tenant:subject), and the report compares the findings with what one in-order process finds
 * (the detectors run in this process over the events in event-time order).
 *
 * Writes the report as markdown (stdout and the "Detection quality" section of tools/bench/RESULTS.md)
 * and JSON (tools/bench/results/eval.json).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { pino } from 'pino';
import { REGISTRY } from '../../detectors/registry.ts';
import { openIpIntel } from '../../ingest/ipintel/provider.ts';
import { IP_INTEL_SETTINGS } from '../../ingest/ipintel/settings.ts';
import { detectFeatures } from '../../platform/clickhouse/client.ts';
import { migrate } from '../../platform/clickhouse/migrate.ts';
import { CLICKHOUSE_SETTINGS } from '../../platform/clickhouse/settings.ts';
import { createKafka, createProducer, sendChunked } from '../../platform/kafka/client.ts';
import { readTable } from '../../platform/settings.ts';
import { createHttpReporter } from '../../sdk/src/http-reporter.ts';
import type { Reporter, ReporterStats, TokenEvent } from '../../sdk/src/index.ts';
import { createKafkaReporter } from '../../sdk/src/kafka.ts';
import { writeJson, writeSection } from '../bench/support.ts';
import { REPO_ROOT } from '../local-stack/paths.ts';
import { requirePortsFree, stopChild, waitUntilReady } from '../local-stack/process.ts';
import { stackDown, stackRunning, stackUp } from '../local-stack/stack.ts';
import { SimClock } from '../simulator/clock.ts';
import { inTimeOrder, RecordingReporter, shuffled } from '../simulator/delivery.ts';
import { evaluate, renderEvaluation, type StoredFinding } from '../simulator/evaluate.ts';
import { Executor } from '../simulator/executor.ts';
import {
  type DecidedFinding,
  type HardReport,
  hardCaseReport,
  renderHardReport,
} from '../simulator/hard-report.ts';
import { buildHistory, HISTORY_DAYS } from '../simulator/history.ts';
import { runLines, verdictOf } from '../simulator/in-process.ts';
import { VPN_EGRESS_CIDR } from '../simulator/places.ts';
import { startSimulatedPlatform } from '../simulator/platform.ts';
import { buildSimulation } from '../simulator/simulation.ts';
import { HISTORY_EVENT_PREFIX, type HistoryWritten, writeHistory } from './history-writer.ts';
import { type EvalIpIntel, writeEvalIpIntel } from './ip-intel.ts';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '2000' },
    days: { type: 'string', default: '1' },
    attacks: { type: 'string', default: '10' },
    seed: { type: 'string', default: 'tokenwatch' },
    concurrency: { type: 'string', default: '48' },
    port: { type: 'string', default: '8081' },
    instances: { type: 'string', default: '1' },
    shuffle: { type: 'boolean', default: false },
    door: { type: 'string', default: 'kafka' },
    hard: { type: 'boolean', default: false },
    'hard-users': { type: 'string', default: '100' },
    'history-days': { type: 'string' },
    'no-write': { type: 'boolean', default: false },
  },
});
const say = (msg: string) => console.error(`[eval] ${msg}`);
const positive = (name: string, raw: string | undefined, max: number) => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > max) {
    console.error(`[eval] --${name} must be a number above 0 and at most ${max}; got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
};
const USERS = Math.round(positive('users', args.users, 1_000_000));
const DAYS = positive('days', args.days, 6);
const ATTACKS = Math.round(positive('attacks', args.attacks, 1000));
const CONCURRENCY = Math.round(positive('concurrency', args.concurrency, 1024));
const PORT = Math.round(positive('port', args.port, 65535));
const INSTANCES = Math.round(positive('instances', args.instances, 8));
const HARD = args.hard === true;
const HARD_USERS = Math.round(positive('hard-users', args['hard-users'], 100_000));
/** days of learning history written before tokenwatch starts (default: 14 with --hard, none without) */
const HISTORY = args['history-days'] === undefined ? (HARD ? HISTORY_DAYS : 0) : Number(args['history-days']);
if (!Number.isInteger(HISTORY) || HISTORY < 0 || HISTORY > 60) {
  console.error(
    `[eval] --history-days must be a whole number from 0 to 60; got ${JSON.stringify(args['history-days'])}`,
  );
  process.exit(2);
}
/** record the traffic, then publish it (shuffled or in order) to N instances */
const RECORDED = INSTANCES > 1 || args.shuffle === true;
const HTTP_DOOR = args.door === 'http';
if (!['kafka', 'http'].includes(args.door!) || (HTTP_DOOR && RECORDED)) {
  console.error(
    `[eval] --door must be kafka or http (http: one instance, live, without --shuffle); got ${JSON.stringify(args.door)}`,
  );
  process.exit(2);
}
const DAY = 86_400_000;
const DATABASE = 'tokenwatch_eval';
const TENANT = 'default';
const API_KEY = 'eval-key-0123456789abcdef';
/** --door http: the auth server's key and the verifiers' key, each with its role */
const AUTH_SERVER_KEY = 'eval-auth-server-key-0123456789';
const VERIFIER_KEY = 'eval-verifier-key-0123456789ab';
const EVAL_TITLE = HARD
  ? 'Detection quality, hard cases (npm run eval -- --hard)'
  : 'Detection quality (npm run eval)';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LATENESS_MS = REGISTRY.defaults.allowedLatenessMs as number;
const commandArgs =
  `--users ${USERS} --days ${DAYS} --attacks ${ATTACKS} --seed ${args.seed}` +
  (INSTANCES > 1 ? ` --instances ${INSTANCES}` : '') +
  (args.shuffle ? ' --shuffle' : '') +
  (HTTP_DOOR ? ' --door http' : '') +
  (HARD ? ` --hard --hard-users ${HARD_USERS}` : '') +
  (HISTORY !== (HARD ? HISTORY_DAYS : 0) ? ` --history-days ${HISTORY}` : '');

/** Publishes the events to the topic in the order given, key tenant:subject, in chunks. */
async function publish(brokers: string[], topic: string, events: readonly TokenEvent[]) {
  const kafka = createKafka({ brokers, clientId: 'tokenwatch-eval' }, pino({ level: 'warn' }));
  const producer = createProducer(kafka);
  await producer.connect();
  try {
    await sendChunked(
      producer,
      topic,
      events.map((e) => ({ key: `${e.tenant ?? 'default'}:${e.subject ?? ''}`, value: JSON.stringify(e) })),
    );
  } finally {
    await producer.disconnect();
  }
}

/** The reporters' stats, added up. */
function statsOf(r: { auth: Reporter; verifiers: Reporter | undefined }): ReporterStats {
  const a = r.auth.stats();
  const b = r.verifiers?.stats();
  if (b === undefined) return a;
  return {
    ...a,
    reported: a.reported + b.reported,
    queued: a.queued + b.queued,
    sent: a.sent + b.sent,
    dropped: {
      queue_full: a.dropped.queue_full + b.dropped.queue_full,
      refused: a.dropped.refused + b.dropped.refused,
      closed: a.dropped.closed + b.dropped.closed,
    },
    sendFailures: a.sendFailures + b.sendFailures,
  };
}

async function scalar(ch: ClickHouseClient, query: string): Promise<number> {
  const rs = await ch.query({ query, format: 'JSONEachRow' });
  const [row] = await rs.json<Record<string, string | number>>();
  return Number(Object.values(row ?? { n: 0 })[0]);
}

async function startTokenwatch(
  env: Record<string, string>,
  topic: string,
  port: number,
): Promise<ChildProcess> {
  const kafka = HTTP_DOOR
    ? // single-process mode: POST /v1/events straight to ClickHouse and the detectors
      { TOKENWATCH_KAFKA_BROKERS: '' }
    : {
        TOKENWATCH_KAFKA_TOPICS: topic,
        TOKENWATCH_KAFKA_DEAD_LETTER_TOPIC: `${topic}.dlq`,
        TOKENWATCH_KAFKA_FINDINGS_TOPIC: `${topic}.findings`,
        TOKENWATCH_KAFKA_REVOCATIONS_TOPIC: `${topic}.revocations`,
        TOKENWATCH_KAFKA_GROUP_ID: `${topic}.ingest`,
        TOKENWATCH_DETECT_GROUP_ID: `${topic}.detectors`,
      };
  const child = spawn(process.execPath, [`${REPO_ROOT}service/cli.ts`, 'serve'], {
    env: {
      ...process.env,
      ...env,
      TOKENWATCH_PORT: String(port),
      TOKENWATCH_HOST: '127.0.0.1',
      TOKENWATCH_CLICKHOUSE_DATABASE: DATABASE,
      ...kafka,
      TOKENWATCH_API_KEYS: HTTP_DOOR
        ? `${TENANT}:${AUTH_SERVER_KEY}:auth-server,${TENANT}:${VERIFIER_KEY}:verifier`
        : `${TENANT}:${API_KEY}`,
      TOKENWATCH_DETECT_DRY_RUN: 'refresh_replay,impossible_travel,device_reuse,verification_anomaly',
      TOKENWATCH_DETECT_ALLOWLIST: VPN_EGRESS_CIDR,
      TOKENWATCH_LOG_LEVEL: process.env['TOKENWATCH_LOG_LEVEL'] ?? 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitUntilReady(`http://127.0.0.1:${port}`, child, `tokenwatch (port ${port}; --port picks another)`);
  return child;
}

/**
 * The learning history: the schema migrated (tokenwatch finds it current), then the sightings of the
 * days before the window written into the events table, enriched with the IP intelligence the
 * instances will use (`intelEnv`; geoip-lite alone without it).
 */
async function writeLearningHistory(
  ch: ClickHouseClient,
  env: Record<string, string>,
  sim: ReturnType<typeof buildSimulation>,
  intelEnv: Record<string, string>,
): Promise<HistoryWritten> {
  const log = pino({ level: 'warn' });
  const problems: string[] = [];
  const settings = { ...process.env, ...env, ...intelEnv };
  const clickhouse = readTable(CLICKHOUSE_SETTINGS, settings, problems);
  const ipIntel = readTable(IP_INTEL_SETTINGS, settings, problems);
  if (problems.length > 0) throw new Error(`the eval's settings: ${problems.join('; ')}`);
  await migrate(
    ch,
    { database: DATABASE, cluster: clickhouse.cluster, retentionDays: clickhouse.retentionDays },
    await detectFeatures(ch),
    log,
  );
  const sightings = buildHistory(sim, HISTORY);
  say(
    `history: ${sightings.length} sightings (one per device, address and hour) of ${sim.users.length} users over the ${HISTORY} days before the window`,
  );
  const intel = openIpIntel(ipIntel, log);
  try {
    return await writeHistory({ client: ch, database: DATABASE, sightings, intel, log, say });
  } finally {
    intel.close();
  }
}

/** The tokenwatch processes this run started: stopped however it ends (a failure too). */
const instances: ChildProcess[] = [];
/** --hard: the folder of the generated IP intelligence files, removed however the run ends */
let intelDir: string | undefined;
const removeIntelDir = () => {
  if (intelDir !== undefined) rmSync(intelDir, { recursive: true, force: true });
};

async function main() {
  // Our ports first: a tokenwatch left on one would answer for the one we start.
  await requirePortsFree(
    Array.from({ length: INSTANCES }, (_, i) => [`tokenwatch instance ${i + 1} (--port)`, PORT + i]),
  );
  const stackWasUp = await stackRunning();
  say(stackWasUp ? 'local stack already running' : 'starting the local stack (ClickHouse + Kafka)…');
  const { env } = await stackUp((m) => say(m));
  const ch = createClient({ url: env['TOKENWATCH_CLICKHOUSE_URL']!, request_timeout: 120_000 });
  await ch.command({ query: `DROP DATABASE IF EXISTS ${DATABASE}` });
  const run = Date.now().toString(36);
  const topic = `tokenwatch.eval.${run}`;
  const brokers = [env['TOKENWATCH_KAFKA_BROKERS']!];

  // Simulated days that ended before now: whole UTC days, so local times of day line up; working
  // days where they fit within the events' accepted age (a weekend is the quiet case).
  const durationMs = Math.round(DAYS * DAY);
  let startUtcMs = Math.floor((Date.now() - durationMs - 3_600_000) / DAY) * DAY;
  const weekend = (ms: number) => [0, 6].includes(new Date(ms).getUTCDay());
  const anyWeekend = (from: number) =>
    Array.from({ length: Math.ceil(DAYS) }, (_, i) => from + i * DAY).some(weekend);
  for (let back = 0; back < 3 && DAYS <= 5 && anyWeekend(startUtcMs); back++) startUtcMs -= DAY;
  const sim = buildSimulation({
    seed: args.seed!,
    users: USERS,
    durationMs,
    startUtcMs,
    attacksPerKind: ATTACKS,
    tenant: TENANT,
    ...(HARD ? { hardPerKind: HARD_USERS } : {}),
  });
  say(
    `simulation (seed ${JSON.stringify(args.seed)}): ${USERS} users, ${DAYS} day(s) from ${new Date(startUtcMs).toISOString()}, ` +
      `${sim.steps.length} steps, ${sim.labels.length} labelled attacks` +
      (HARD ? `, ${sim.hardCases.length} hard benign subjects` : ''),
  );
  // --hard: the simulated world's ASNs and network kinds, read by the instances (and the history)
  let ipIntel: EvalIpIntel | undefined;
  if (HARD) {
    intelDir = mkdtempSync(join(tmpdir(), 'tokenwatch-eval-'));
    ipIntel = writeEvalIpIntel(intelDir);
    say(
      `IP intelligence: ${ipIntel.networks} networks in ${ipIntel.env.TOKENWATCH_GEOIP_ASN_DB}, ${ipIntel.kinds} network kinds in ${ipIntel.env.TOKENWATCH_NETWORK_KINDS_FILE}`,
    );
  }
  let history: HistoryWritten | undefined;
  if (HISTORY > 0) {
    history = await writeLearningHistory(ch, env, sim, ipIntel?.env ?? {});
    say(`history: ${history.rows} rows written in ${history.seconds.toFixed(1)} s`);
  }
  say(
    `starting ${INSTANCES} tokenwatch instance(s) from 127.0.0.1:${PORT} (database ${DATABASE}, topic ${topic}, every detector dry-run)`,
  );
  for (let i = 0; i < INSTANCES; i++)
    instances.push(await startTokenwatch({ ...env, ...ipIntel?.env }, topic, PORT + i));

  const clock = new SimClock(true, startUtcMs);
  const sdkLog = (fields: object, message: string) => say(`sdk: ${message} ${JSON.stringify(fields)}`);
  const logger = { warn: sdkLog, error: sdkLog, info: () => undefined };
  const recording = new RecordingReporter();
  const http = (apiKey: string) =>
    createHttpReporter({ url: `http://127.0.0.1:${PORT}`, apiKey, maxQueue: 200_000, logger });
  // --door http: the auth server and the verifiers each report with their own role's key
  const reporter = RECORDED
    ? recording
    : HTTP_DOOR
      ? http(AUTH_SERVER_KEY)
      : createKafkaReporter({ brokers, topic, clientId: 'tokenwatch-eval', maxQueue: 200_000, logger });
  const verifierReporter = HTTP_DOOR ? http(VERIFIER_KEY) : undefined;
  const reporters = { auth: reporter, verifiers: verifierReporter };
  const platform = await startSimulatedPlatform({
    reporter,
    ...(verifierReporter !== undefined ? { verifierReporter } : {}),
    clock,
    tenant: TENANT,
    // the hard cases' DPoP-bound clients prove their keys; the default eval's verifiers stay as they were
    ...(HARD ? { dpop: true } : {}),
  });
  const executor = new Executor({
    users: sim.users,
    auth: platform.auth,
    api: platform.api,
    clock,
    concurrency: CONCURRENCY,
    seed: args.seed!,
  });

  const wallStart = Date.now();
  const progress = setInterval(() => {
    const s = executor.stats;
    const r = statsOf(reporters);
    const simH = clock.elapsed() / 3_600_000;
    say(
      `simulated ${simH.toFixed(1)} h of ${(durationMs / 3_600_000).toFixed(0)} h — ${s.steps}/${sim.steps.length} steps, ` +
        `${s.calls} calls (${
          Object.entries(s.rejected)
            .map(([k, v]) => `${v} ${k}`)
            .join(', ') || 'none rejected'
        }), ` +
        `${s.logins} logins, ${s.refreshes} refreshes, ${s.attackSteps} attack steps; ${r.sent} events sent, ${r.queued} queued` +
        `${s.errors > 0 ? `; ${s.errors} errors (last: ${s.lastError})` : ''}`,
    );
  }, 5000);
  const stopAll = async (code: number) => {
    clearInterval(progress);
    executor.stop();
    await platform.close().catch(() => undefined);
    for (const tw of instances) await stopChild(tw);
    await ch.close();
    removeIntelDir();
    if (!stackWasUp) await stackDown((m) => say(m));
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(130));

  await executor.run(sim.steps);
  const playedS = (Date.now() - wallStart) / 1000;
  clearInterval(progress);
  await Promise.all([reporter.flush(120_000), verifierReporter?.flush(120_000)]);
  let sent = statsOf(reporters);
  /** what one in-order process finds in the recorded traffic, and how it was delivered */
  let reference: Set<string> | undefined;
  let delivery = HTTP_DOOR
    ? 'live, through the SDK HTTP reporters (the auth server with an auth-server key, the verifiers with a verifier key)'
    : 'live, through the SDK Kafka reporter';
  if (RECORDED) {
    const events = recording.events;
    const delivered = args.shuffle
      ? shuffled(events, { latenessMs: LATENESS_MS, duplicates: 0.05, seed: args.seed! })
      : inTimeOrder(events);
    delivery =
      `recorded, then published to ${INSTANCES} instance(s)` +
      (args.shuffle
        ? ` out of order (each event up to ${LATENESS_MS / 60_000} min late, ${delivered.length - events.length} twice)`
        : ' in event-time order');
    say(`publishing ${delivered.length} events (${delivery})…`);
    await publish(brokers, topic, delivered);
    say('judging the same events in event-time order in this process (the reference)…');
    reference = new Set(
      runLines(
        inTimeOrder(events).map((e) => JSON.stringify(e)),
        { ...REGISTRY.defaults, allowlistCidrs: [VPN_EGRESS_CIDR] },
        REGISTRY,
        'events',
        // validated as the instances validate them: against this clock, the invalid ones left out
        { nowMs: Date.now(), invalid: 'skip' },
      ).map(verdictOf),
    );
    sent = { ...sent, sent: events.length };
  }
  say(
    `played in ${playedS.toFixed(0)} s; ${sent.sent} events sent, ${sent.dropped.queue_full} dropped, ${executor.stats.errors} errors`,
  );
  if (executor.stats.errors > 0)
    say(`WARNING: ${executor.stats.errors} requests failed (last: ${executor.stats.lastError})`);

  // Wait until tokenwatch stored every event and its detectors wrote what they found.
  say('waiting for tokenwatch to store and examine every event…');
  const deadline = Date.now() + 15 * 60_000;
  let stored = 0;
  for (;;) {
    // the history's rows were there before the traffic
    const traffic = history === undefined ? '' : ` WHERE event_id NOT LIKE '${HISTORY_EVENT_PREFIX}%'`;
    stored = await scalar(ch, `SELECT count() FROM ${DATABASE}.events FINAL${traffic}`).catch(() => 0);
    const dead = await scalar(ch, `SELECT count() FROM ${DATABASE}.dead_letters`).catch(() => 0);
    if (stored + dead >= sent.sent) break;
    if (Date.now() > deadline)
      throw new Error(`tokenwatch stored ${stored} of ${sent.sent} events within 15 minutes`);
    await sleep(2000);
  }
  let findings = -1;
  for (let stable = 0; stable < 3; ) {
    await sleep(3000);
    const n = await scalar(ch, `SELECT count() FROM ${DATABASE}.detections`);
    stable = n === findings ? stable + 1 : 0;
    findings = n;
  }
  const rs = await ch.query({
    query: `SELECT detector, kind, tenant, subject, target_kind, target_id, evidence_ips, evidence_cities, detected_ms, found_at_ms
            FROM ${DATABASE}.detections FINAL WHERE tenant = '${TENANT}'`,
    format: 'JSONEachRow',
  });
  const stored_ = await rs.json<
    StoredFinding & { target_kind: string; target_id: string; detected_ms: string; found_at_ms: string }
  >();
  const rows = stored_.map((f) => ({
    ...f,
    detected_ms: Number(f.detected_ms),
    found_at_ms: Number(f.found_at_ms),
  }));
  const evaluation = evaluate({
    labels: sim.labels,
    findings: rows,
    startMs: startUtcMs,
    days: DAYS,
    benignSubjects: sim.benignSubjects.length + sim.hardCases.length,
    wallTimeOf: (ms) => clock.wallTimeOf(ms),
  });
  const s = executor.stats;
  const summary =
    `${USERS} users (${sim.benignSubjects.length} never attacked)` +
    (HARD ? ` and ${sim.hardCases.length} of the hard benign cases (${HARD_USERS} per case)` : '') +
    `, ${DAYS} simulated day(s), seed \`${args.seed}\`, ` +
    (history !== undefined
      ? `${HISTORY} days of learning history before them (${history.rows} sightings written in ${history.seconds.toFixed(0)} s), `
      : '') +
    `${sim.labels.length} attacks; ${s.calls} API calls (${s.callsAccepted} accepted), ${s.logins} logins, ` +
    `${s.refreshes} refresh presentations, ${s.logouts} logouts; ${stored} events stored; played in ${playedS.toFixed(0)} s ` +
    `on the simulated clock (${(durationMs / 1000 / playedS).toFixed(0)}× real time).`;
  let markdown = renderEvaluation(evaluation);
  let orderIndependent: { same: boolean; onlyHere: string[]; onlyInOrder: string[] } | undefined;
  if (reference !== undefined) {
    const here = new Set(
      stored_.map((f) => verdictOf({ ...f, target: { kind: f.target_kind, id: f.target_id } })),
    );
    const onlyHere = [...here].filter((v) => !reference.has(v)).sort();
    const onlyInOrder = [...reference].filter((v) => !here.has(v)).sort();
    orderIndependent = { same: onlyHere.length === 0 && onlyInOrder.length === 0, onlyHere, onlyInOrder };
    markdown =
      `Delivery: ${delivery}. Compared with one process judging the same events in event-time order: ` +
      (orderIndependent.same
        ? `**the same ${here.size} findings** (detector, subject, target).`
        : `**different**: ${onlyHere.length} only here (${onlyHere.slice(0, 5).join('; ')}), ${onlyInOrder.length} only in order (${onlyInOrder.slice(0, 5).join('; ')}).`) +
      `\n\n${markdown}`;
  }
  // What the response stage decided (every detector in dry-run: `dry_run` would revoke; `alert_only`
  // includes findings whose evidence was not corroborated — one verifier's word alone).
  const decided = await ch
    .query({
      query: `SELECT detector, response, count() AS n FROM ${DATABASE}.detections FINAL WHERE tenant = '${TENANT}'
              GROUP BY detector, response ORDER BY detector, response`,
      format: 'JSONEachRow',
    })
    .then((r) => r.json<{ detector: string; response: string; n: string | number }>());
  markdown += `\n\nResponse decisions (dry run; \`dry_run\`: would revoke): ${
    decided.map((d) => `${d.detector} ${d.response || '(none)'} ${d.n}`).join('; ') || 'none'
  }.`;
  let hard: HardReport | undefined;
  if (HARD) {
    const decidedFindings = await ch
      .query({
        query: `SELECT subject, detector, response FROM ${DATABASE}.detections FINAL WHERE tenant = '${TENANT}'`,
        format: 'JSONEachRow',
      })
      .then((r) => r.json<DecidedFinding>());
    hard = hardCaseReport(sim.hardCases, decidedFindings, evaluation.attackKinds, DAYS);
    markdown = `${renderHardReport(hard, evaluation.attackKinds)}\n\nEvery detector, all subjects (the hard cases' findings count as false positives):\n\n${markdown}`;
  }
  console.log(`${summary}\n\n${markdown}`);
  if (!args['no-write']) {
    writeJson(HARD ? 'eval-hard' : 'eval', {
      date: new Date().toISOString(),
      command: `npm run eval -- ${commandArgs}`,
      simulation: {
        users: USERS,
        days: DAYS,
        attacksPerKind: ATTACKS,
        seed: args.seed,
        steps: sim.steps.length,
      },
      traffic: { ...s, eventsSent: sent.sent, eventsStored: stored, playedSeconds: playedS },
      ...(history !== undefined ? { history: { days: HISTORY, ...history } } : {}),
      ...(ipIntel !== undefined ? { ipIntel } : {}),
      delivery: {
        instances: INSTANCES,
        shuffle: args.shuffle === true,
        description: delivery,
        orderIndependent,
      },
      evaluation,
      ...(hard !== undefined ? { hard, hardCases: sim.hardCases } : {}),
      labels: sim.labels,
    });
    writeSection(
      EVAL_TITLE,
      `## ${EVAL_TITLE}\n\n\`npm run eval -- ${commandArgs}\` (${new Date().toISOString().slice(0, 10)}): ${summary}\n\n${markdown}\n`,
    );
    say(
      `report written: tools/bench/RESULTS.md (${EVAL_TITLE}) and tools/bench/results/${HARD ? 'eval-hard' : 'eval'}.json`,
    );
  }
  const unmet = [...evaluation.goals, ...(hard?.goals ?? [])].filter((g) => !g.met);
  if (orderIndependent !== undefined && !orderIndependent.same)
    say('the findings differ from one in-order process: verdicts depend on delivery order');
  if (unmet.length > 0) say(`goals not met: ${unmet.map((g) => g.goal).join('; ')}`);
  await stopAll(0);
}

main().catch(async (err: Error) => {
  console.error(`[eval] failed: ${err.stack ?? err.message}`);
  for (const tw of instances) await stopChild(tw);
  removeIntelDir();
  process.exit(1);
});
