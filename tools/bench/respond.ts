/**
 * `npm run bench:respond`: time to revoke — the replay of a stolen refresh token produced to Kafka
 * → the family's revocation request received by the reference auth server — through the real
 * service (Kafka mode: detectors, response stage) and the real auth server, for probes every
 * 500 ms, with no other traffic and under BENCH_RESPOND_RATE events/s of benign background.
 * Beside it, measured on the same probes in the same run: the time to the finding on the findings
 * topic (the detection alone), so the response stage's own share is the difference.
 *
 *   BENCH_RESPOND_RATE (20000)   background events/s of the loaded run
 *   BENCH_RESPOND_SECONDS (30)   seconds of probes per load
 *   BENCH_KAFKA_VERSION (3.9.2)
 * Writes tools/bench/results/respond.json and the "Response" section of tools/bench/RESULTS.md.
 * The blast-radius guard is raised for the run (two probes a second would trip the default 30/min).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { REPO_ROOT } from '../local-stack/paths.ts';
import { freePort } from '../local-stack/process.ts';
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

const RATE = Number(process.env['BENCH_RESPOND_RATE'] ?? 20_000);
const SECONDS = Number(process.env['BENCH_RESPOND_SECONDS'] ?? 30);
const KAFKA_VERSION = process.env['BENCH_KAFKA_VERSION'] ?? '3.9.2';
const PROBE_EVERY_MS = 500;
const GOAL_P99_MS = 500;
const ADMIN_TOKEN = 'bench-admin-0123456789abcdef';
const REVOKE_TOKEN = 'bench-revoke-0123456789abcdef';
const log = (msg: string) => console.error(`[bench:respond] ${msg}`);

interface AuthServer {
  url: string;
  child: ChildProcess;
}

/** The reference auth server on a free port (no event reporting: the bench produces the events itself). */
async function startAuthServer(): Promise<AuthServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [`${REPO_ROOT}examples/auth-server/main.ts`], {
    env: {
      PATH: process.env['PATH'] ?? '',
      AUTH_HOST: '127.0.0.1',
      AUTH_PORT: String(port),
      AUTH_TENANT: 'acme',
      AUTH_LOG_LEVEL: 'warn',
      AUTH_ADMIN_TOKEN: ADMIN_TOKEN,
      AUTH_REVOCATION_TOKEN: REVOKE_TOKEN,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`auth server exited with ${child.exitCode}`);
    if (
      await fetch(`${url}/.well-known/jwks.json`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { url, child };
    await sleep(100);
  }
  throw new Error('auth server did not start');
}

interface Received {
  received_at_ms: number;
  idempotency_key: string | null;
}

async function revocationLog(auth: AuthServer): Promise<Received[]> {
  const res = await fetch(`${auth.url}/admin/revocations`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  return ((await res.json()) as { revocations: Received[] }).revocations;
}

interface LoadResult {
  load: string;
  targetRate: number;
  achievedRate: number;
  probes: number;
  revoked: number;
  /** replay produced → finding on the findings topic (the detection alone) */
  finding: { p50: number; p99: number };
  /** replay produced → revocation request received by the auth server */
  revoke: { p50: number; p99: number; max: number };
  /** revocation requests beyond one per probe (must be 0) */
  extraRequests: number;
}

async function measure(
  stack: { clickhouseUrl: string; brokers: string },
  kafka: Kafka,
  rate: number,
  run: number,
): Promise<LoadResult> {
  const topic = `bench.respond.${run}`;
  await createRunTopics(kafka, topic);
  const auth = await startAuthServer();
  const service = await startService({
    ...kafkaModeEnv(stack, topic, `bench_respond_${run}`),
    TOKENWATCH_KAFKA_REVOCATIONS_TOPIC: `${topic}.revocations`,
    TOKENWATCH_AUTH_REVOKE_URL: `${auth.url}/v1/revocations`,
    TOKENWATCH_AUTH_TOKEN: REVOKE_TOKEN,
    TOKENWATCH_GUARD_TENANT_PER_MINUTE: '100000',
    TOKENWATCH_GUARD_TOTAL_PER_MINUTE: '100000',
  });

  const found = new Map<string, number>();
  /** Idempotency-Key of each probe's revocation → the probe */
  const keyOf = new Map<string, string>();
  const stopFollowing = await followFindings(kafka, topic, (d) => {
    if (!d.subject.startsWith('probe-')) return;
    if (!found.has(d.subject)) found.set(d.subject, Date.now());
    if (d.revocation_id !== '') keyOf.set(`tokenwatch-${d.revocation_id}`, d.subject);
  });
  const { sent, probes, achievedRate } = await probeUnderLoad(kafka, topic, {
    brokers: [stack.brokers],
    rate,
    seconds: SECONDS,
    everyMs: PROBE_EVERY_MS,
  });
  await sleep(3000);
  const received = await revocationLog(auth);
  const revokedAt = new Map<string, number>();
  for (const r of received) {
    const subject = r.idempotency_key === null ? undefined : keyOf.get(r.idempotency_key);
    if (subject !== undefined && !revokedAt.has(subject)) revokedAt.set(subject, r.received_at_ms);
  }
  const toRevoke = latenciesOf(sent, revokedAt);
  const toFinding = latenciesOf(sent, found);
  await stopFollowing();
  await stopService(service.child);
  await stopService(auth.child);
  return {
    load: rate === 0 ? 'none (baseline)' : `${rate.toLocaleString('en')} events/s`,
    targetRate: rate,
    achievedRate,
    probes,
    revoked: toRevoke.length,
    finding: { p50: quantile(toFinding, 0.5), p99: quantile(toFinding, 0.99) },
    revoke: { p50: quantile(toRevoke, 0.5), p99: quantile(toRevoke, 0.99), max: Math.max(...toRevoke) },
    extraRequests:
      received.filter((r) => r.idempotency_key !== null && keyOf.has(r.idempotency_key)).length -
      revokedAt.size,
  };
}

/** The goal: time to revoke p99 ≤ GOAL_P99_MS, idle and under load. */
const goalMet = (idle: LoadResult, loaded: LoadResult) =>
  loaded.revoke.p99 <= GOAL_P99_MS && idle.revoke.p99 <= GOAL_P99_MS;

/** Time to revoke under load beside idle (p99), and beside the detection alone (p50). */
function headlines(idle: LoadResult, loaded: LoadResult): Headline[] {
  return [
    headline({
      figure: `time to revoke p99 under ${loaded.load}`,
      value: loaded.revoke.p99,
      unit: 'ms',
      baseline: 'the same probes, no background load',
      baselineValue: idle.revoke.p99,
      note: `revoked ${loaded.revoked}/${loaded.probes}; goal p99 ≤ ${GOAL_P99_MS} ms: ${goalMet(idle, loaded) ? 'met' : 'NOT met'}`,
    }),
    headline({
      figure: `time to revoke p50 under ${loaded.load}`,
      value: loaded.revoke.p50,
      unit: 'ms',
      baseline: 'time to the finding p50 (detection alone), same probes',
      baselineValue: loaded.finding.p50,
      note: `the response stage's share: ${loaded.revoke.p50 - loaded.finding.p50} ms`,
    }),
  ];
}

async function main() {
  const stack = await startBenchStack(KAFKA_VERSION, log);
  const kafka = new Kafka({
    clientId: 'bench-respond',
    brokers: [stack.brokers],
    logLevel: logLevel.NOTHING,
  });
  const results: LoadResult[] = [];
  try {
    for (const [run, rate] of [0, RATE].entries()) {
      log(`probing for ${SECONDS} s at ${rate} background events/s`);
      const r = await measure(stack, kafka, rate, run);
      log(
        `  ${r.load}: revoked ${r.revoked}/${r.probes}, time to revoke p50 ${r.revoke.p50} ms p99 ${r.revoke.p99} ms ` +
          `(finding p50 ${r.finding.p50} ms p99 ${r.finding.p99} ms)`,
      );
      results.push(r);
    }
  } finally {
    await stack.stop();
  }
  const [idle, loaded] = results as [LoadResult, LoadResult];
  const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
  const rows = results.map(
    (r) =>
      `| ${r.load} | ${Math.round(r.achievedRate).toLocaleString('en')} | ${r.revoked}/${r.probes} | ` +
      `${r.revoke.p50} / ${r.revoke.p99} / ${r.revoke.max} | ${r.finding.p50} / ${r.finding.p99} | ` +
      `${r.revoke.p50 - r.finding.p50} | ${r.extraRequests} |`,
  );
  const section = `## Response

\`npm run bench:respond\` (${machine(`Kafka ${KAFKA_VERSION}, ClickHouse 18.16, the service, the reference auth server and the load generator on one machine`)}).
Time to revoke: a stolen refresh token's replay produced to Kafka → the family's revocation request
received by the reference auth server (probes every ${PROBE_EVERY_MS} ms for ${SECONDS} s per load; each
replay is found by three detectors and revoked once). Beside it, the same probes' time to the finding
on the findings topic (the detection alone; it is published after the revocation is decided and under
way, so a revocation can arrive first), and the run without background as the baseline.

| background load | achieved events/s | revoked | time to revoke p50 / p99 / max (ms) | finding p50 / p99 (ms) | response's share at p50 (ms) | extra requests |
|---|---|---|---|---|---|---|
${rows.join('\n')}

Under load the time to revoke p99 is ${ratio(loaded.revoke.p99, idle.revoke.p99)} the idle p99 (goal: p99 ≤ ${GOAL_P99_MS} ms —
${goalMet(idle, loaded) ? 'met' : 'NOT met'} in this run).
`;
  writeResults('Response', section, 'respond', {
    headline: headlines(idle, loaded),
    machine: machine(''),
    results,
  });
  process.stdout.write(section);
}

await main();
