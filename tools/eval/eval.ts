/**
 * `npm run eval`: detection quality on labelled traffic through the real pipeline. Brings up the
 * local stack (ClickHouse, Kafka), starts tokenwatch (Kafka mode, every detector in dry-run, the
 * simulated corporate VPN's egress allowlisted), runs the reference auth server in process on the
 * simulation's clock and SDK verifiers beside it (both reporting over Kafka), plays the simulated
 * day(s) with their attacks as fast as the machine allows, waits until tokenwatch has stored and
 * examined every event, and compares its findings with the labels.
 *
 *   npm run eval -- --users 2000 --days 1 --attacks 10 --seed tokenwatch
 *
 * Writes the report as markdown (stdout and the "Detection quality" section of tools/bench/RESULTS.md)
 * and JSON (tools/bench/results/eval.json).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { createKafkaReporter } from '../../sdk/src/kafka.ts';
import { writeJson, writeSection } from '../bench/support.ts';
import { REPO_ROOT } from '../local-stack/paths.ts';
import { stopChild, waitUntilReady } from '../local-stack/process.ts';
import { stackDown, stackRunning, stackUp } from '../local-stack/stack.ts';
import { SimClock } from '../simulator/clock.ts';
import { evaluate, renderEvaluation, type StoredFinding } from '../simulator/evaluate.ts';
import { Executor } from '../simulator/executor.ts';
import { VPN_EGRESS_CIDR } from '../simulator/places.ts';
import { startSimulatedPlatform } from '../simulator/platform.ts';
import { buildSimulation } from '../simulator/simulation.ts';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '2000' },
    days: { type: 'string', default: '1' },
    attacks: { type: 'string', default: '10' },
    seed: { type: 'string', default: 'tokenwatch' },
    concurrency: { type: 'string', default: '48' },
    port: { type: 'string', default: '8081' },
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
const DAY = 86_400_000;
const DATABASE = 'tokenwatch_eval';
const TENANT = 'default';
const API_KEY = 'eval-key-0123456789abcdef';
const EVAL_TITLE = 'Detection quality (npm run eval)';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function scalar(ch: ClickHouseClient, query: string): Promise<number> {
  const rs = await ch.query({ query, format: 'JSONEachRow' });
  const [row] = await rs.json<Record<string, string | number>>();
  return Number(Object.values(row ?? { n: 0 })[0]);
}

async function startTokenwatch(env: Record<string, string>, topic: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [`${REPO_ROOT}service/cli.ts`, 'serve'], {
    env: {
      ...process.env,
      ...env,
      TOKENWATCH_PORT: String(PORT),
      TOKENWATCH_HOST: '127.0.0.1',
      TOKENWATCH_CLICKHOUSE_DATABASE: DATABASE,
      TOKENWATCH_KAFKA_TOPICS: topic,
      TOKENWATCH_KAFKA_DEAD_LETTER_TOPIC: `${topic}.dlq`,
      TOKENWATCH_KAFKA_FINDINGS_TOPIC: `${topic}.findings`,
      TOKENWATCH_KAFKA_REVOCATIONS_TOPIC: `${topic}.revocations`,
      TOKENWATCH_KAFKA_GROUP_ID: `${topic}.ingest`,
      TOKENWATCH_DETECT_GROUP_ID: `${topic}.detectors`,
      TOKENWATCH_API_KEYS: `${TENANT}:${API_KEY}`,
      TOKENWATCH_DETECT_DRY_RUN: 'refresh_replay,impossible_travel,device_reuse,verification_anomaly',
      TOKENWATCH_DETECT_ALLOWLIST: VPN_EGRESS_CIDR,
      TOKENWATCH_LOG_LEVEL: process.env['TOKENWATCH_LOG_LEVEL'] ?? 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitUntilReady(`http://127.0.0.1:${PORT}`, child, `tokenwatch (port ${PORT}; --port picks another)`);
  return child;
}

async function main() {
  const stackWasUp = await stackRunning();
  say(stackWasUp ? 'local stack already running' : 'starting the local stack (ClickHouse + Kafka)…');
  const { env } = await stackUp((m) => say(m));
  const ch = createClient({ url: env['TOKENWATCH_CLICKHOUSE_URL']!, request_timeout: 120_000 });
  await ch.command({ query: `DROP DATABASE IF EXISTS ${DATABASE}` });
  const run = Date.now().toString(36);
  const topic = `tokenwatch.eval.${run}`;
  const brokers = [env['TOKENWATCH_KAFKA_BROKERS']!];
  say(
    `starting tokenwatch on 127.0.0.1:${PORT} (database ${DATABASE}, topic ${topic}, every detector dry-run)`,
  );
  const tokenwatch = await startTokenwatch(env, topic);

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
  });
  say(
    `simulation (seed ${JSON.stringify(args.seed)}): ${USERS} users, ${DAYS} day(s) from ${new Date(startUtcMs).toISOString()}, ` +
      `${sim.steps.length} steps, ${sim.labels.length} labelled attacks`,
  );

  const clock = new SimClock(true, startUtcMs);
  const sdkLog = (fields: object, message: string) => say(`sdk: ${message} ${JSON.stringify(fields)}`);
  const logger = { warn: sdkLog, error: sdkLog, info: () => undefined };
  const reporter = createKafkaReporter({
    brokers,
    topic,
    clientId: 'tokenwatch-eval',
    maxQueue: 200_000,
    logger,
  });
  const platform = await startSimulatedPlatform({ reporter, clock, tenant: TENANT });
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
    const r = reporter.stats();
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
    await stopChild(tokenwatch);
    await ch.close();
    if (!stackWasUp) await stackDown((m) => say(m));
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(130));

  await executor.run(sim.steps);
  const playedS = (Date.now() - wallStart) / 1000;
  clearInterval(progress);
  await reporter.flush(120_000);
  const sent = reporter.stats();
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
    stored = await scalar(ch, `SELECT count() FROM ${DATABASE}.events`).catch(() => 0);
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
    query: `SELECT detector, kind, tenant, subject, evidence_ips, evidence_cities, detected_ms, found_at_ms
            FROM ${DATABASE}.detections FINAL WHERE tenant = '${TENANT}'`,
    format: 'JSONEachRow',
  });
  const rows = (await rs.json<StoredFinding & { detected_ms: string; found_at_ms: string }>()).map((f) => ({
    ...f,
    detected_ms: Number(f.detected_ms),
    found_at_ms: Number(f.found_at_ms),
  }));
  const evaluation = evaluate({
    labels: sim.labels,
    findings: rows,
    startMs: startUtcMs,
    days: DAYS,
    benignSubjects: sim.benignSubjects.length,
    wallTimeOf: (ms) => clock.wallTimeOf(ms),
  });
  const s = executor.stats;
  const summary =
    `${USERS} users (${sim.benignSubjects.length} never attacked), ${DAYS} simulated day(s), seed \`${args.seed}\`, ` +
    `${sim.labels.length} attacks; ${s.calls} API calls (${s.callsAccepted} accepted), ${s.logins} logins, ` +
    `${s.refreshes} refresh presentations, ${s.logouts} logouts; ${stored} events stored; played in ${playedS.toFixed(0)} s ` +
    `on the simulated clock (${(durationMs / 1000 / playedS).toFixed(0)}× real time).`;
  const markdown = renderEvaluation(evaluation);
  console.log(`${summary}\n\n${markdown}`);
  if (!args['no-write']) {
    writeJson('eval', {
      date: new Date().toISOString(),
      command: `npm run eval -- --users ${USERS} --days ${DAYS} --attacks ${ATTACKS} --seed ${args.seed}`,
      simulation: {
        users: USERS,
        days: DAYS,
        attacksPerKind: ATTACKS,
        seed: args.seed,
        steps: sim.steps.length,
      },
      traffic: { ...s, eventsSent: sent.sent, eventsStored: stored, playedSeconds: playedS },
      evaluation,
      labels: sim.labels,
    });
    writeSection(
      EVAL_TITLE,
      `## ${EVAL_TITLE}\n\n\`npm run eval -- --users ${USERS} --days ${DAYS} --attacks ${ATTACKS} --seed ${args.seed}\` (${new Date().toISOString().slice(0, 10)}): ${summary}\n\n${markdown}\n`,
    );
    say('report written: tools/bench/RESULTS.md (Detection quality) and tools/bench/results/eval.json');
  }
  const unmet = evaluation.goals.filter((g) => !g.met);
  if (unmet.length > 0) say(`goals not met: ${unmet.map((g) => g.goal).join('; ')}`);
  await stopAll(0);
}

main().catch((err: Error) => {
  console.error(`[eval] failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
