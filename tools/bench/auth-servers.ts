/**
 * `npm run bench:auth`: time from a replayed refresh token to its revocation acknowledged by the
 * auth server — for the reference auth server, Keycloak and node-oidc-provider, one after the other
 * in the same run (the reference server's figure is the baseline). Each server is real and reports
 * its own events (Keycloak: tokenwatch's listener; oidc-provider: the SDK plugin; the reference
 * server: its SDK reporter) to tokenwatch over HTTP; tokenwatch (Kafka mode, detectors and response
 * on) revokes through it (Keycloak: the admin API adapter; the others: the revocation contract).
 * BENCH_AUTH_REPLAYS users each sign in and rotate once; then, one every 500 ms, a thief replays each
 * user's rotated refresh token from another network of the same city (no travel: only the replay
 * can find it). Measured: the replay sent → tokenwatch's record of the server's answer (recorded as
 * the answer arrives). Keycloak's reuse detection is off (its default: the replay succeeds there);
 * oidc-provider refuses the replay and revokes the grant itself, and tokenwatch's call after it is
 * answered `already_revoked`.
 *
 *   BENCH_AUTH_REPLAYS (20)       replays per server
 *   BENCH_AUTH_SERVERS            which, comma-separated (default reference,oidc-provider,keycloak)
 *   BENCH_KAFKA_VERSION (3.9.2)
 * Writes tools/bench/results/auth-servers.json and the "Auth servers" section of tools/bench/RESULTS.md.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { DEFAULT_KEYCLOAK_VERSION } from '../local-stack/keycloak.ts';
import { STATE_DIR } from '../local-stack/paths.ts';
import { freePort } from '../local-stack/process.ts';
import {
  type RealServer,
  revocationSince,
  type ServerKind,
  startRealServer,
} from '../real-auth-demo/servers.ts';
import { CITIES } from '../simulator/places.ts';
import {
  type Headline,
  headline,
  machine,
  quantile,
  SERVICE_API_KEY,
  startBenchStack,
  startService,
  stopService,
  writeResults,
} from './support.ts';
import { kafkaModeEnv } from './traffic.ts';

const REPLAYS = Number(process.env['BENCH_AUTH_REPLAYS'] ?? 20);
const KINDS = (process.env['BENCH_AUTH_SERVERS'] ?? 'reference,oidc-provider,keycloak').split(
  ',',
) as ServerKind[];
const KAFKA_VERSION = process.env['BENCH_KAFKA_VERSION'] ?? '3.9.2';
const REPLAY_EVERY_MS = 500;
const REVOKE_WITHIN_MS = 30_000;
const TENANT = 'acme';
const log = (msg: string) => console.error(`[bench:auth] ${msg}`);

interface ServerResult {
  kind: ServerKind;
  name: string;
  replays: number;
  revoked: number;
  latenciesMs: number[];
  /** how each ended: detector and status, counted */
  outcomes: Record<string, number>;
  /** the server's answers to the replays, counted */
  replayAnswers: Record<string, number>;
}

const count = (into: Record<string, number>, key: string) => {
  into[key] = (into[key] ?? 0) + 1;
};

async function measure(
  kind: ServerKind,
  stack: { clickhouseUrl: string; brokers: string },
): Promise<ServerResult> {
  const database = `bench_auth_${kind.replace('-', '_')}`;
  const twPort = await freePort();
  const users = Array.from({ length: REPLAYS }, (_, i) => `user-${i}`);
  const { server, tokenwatchEnv } = await startRealServer(kind, {
    port: await freePort(),
    tokenwatchUrl: `http://127.0.0.1:${twPort}`,
    apiKey: SERVICE_API_KEY,
    tenant: TENANT,
    users,
    keycloakDir: `${STATE_DIR}/bench-keycloak`,
    say: log,
  });
  const service = await startService(
    {
      ...kafkaModeEnv(stack, `${database}.events`, database),
      ...tokenwatchEnv,
      TOKENWATCH_API_KEYS: `${TENANT}:${SERVICE_API_KEY}:auth-server`,
      // REPLAYS revocations within a minute or two: above the blast-radius guard's default
      TOKENWATCH_GUARD_TENANT_PER_MINUTE: String(Math.max(100, REPLAYS * 2)),
    },
    twPort,
  );
  const ch = createClient({ url: stack.clickhouseUrl, username: 'default', password: '' });
  try {
    return await replays(kind, server, ch, database, users);
  } finally {
    await ch.close();
    await stopService(service.child);
    await server.stop();
  }
}

async function replays(
  kind: ServerKind,
  server: RealServer,
  ch: ClickHouseClient,
  database: string,
  users: string[],
): Promise<ServerResult> {
  const result: ServerResult = {
    kind,
    name: server.name,
    replays: 0,
    revoked: 0,
    latenciesMs: [],
    outcomes: {},
    replayAnswers: {},
  };
  const city = CITIES[0]!;
  const home = city.fixed[0]!;
  const thief = city.fixed.at(-1)!; // another network of the same city
  const stolen: string[] = [];
  const subjects: string[] = [];
  for (const user of users) {
    const t = await server.login(user, home);
    subjects.push(t.subject);
    const rotated = await server.refresh(t.refreshToken, home);
    if (rotated.status !== 200)
      throw new Error(`${server.name}: ${user}'s rotation answered ${rotated.status} ${rotated.error}`);
    stolen.push(t.refreshToken);
  }
  log(`${server.name}: ${users.length} users signed in and rotated; replaying every ${REPLAY_EVERY_MS} ms`);
  await sleep(2000); // their events stored and in the detectors' state
  const pending: Promise<void>[] = [];
  for (const [i, subject] of subjects.entries()) {
    const replayedAt = Date.now();
    const answer = await server.refresh(stolen[i]!, thief);
    result.replays++;
    count(result.replayAnswers, `${answer.status}${answer.error ? ` ${answer.error}` : ''}`);
    pending.push(
      (async () => {
        for (const until = replayedAt + REVOKE_WITHIN_MS; Date.now() < until; await sleep(20)) {
          const ended = await revocationSince(ch, database, subject, replayedAt);
          if (ended === undefined) continue;
          result.revoked++;
          result.latenciesMs.push(Number(ended.at_ms) - replayedAt);
          count(result.outcomes, `${ended.detector}: ${ended.status} (HTTP ${ended.http_status})`);
          return;
        }
        count(result.outcomes, 'not revoked within 30 s');
      })(),
    );
    await sleep(Math.max(0, replayedAt + REPLAY_EVERY_MS - Date.now()));
  }
  await Promise.all(pending);
  const p = (q: number) => quantile(result.latenciesMs, q);
  log(`${server.name}: ${result.revoked}/${result.replays} revoked; p50 ${p(0.5)} ms, p99 ${p(0.99)} ms`);
  return result;
}

async function main() {
  const started = Date.now();
  const stack = await startBenchStack(KAFKA_VERSION, log);
  const results: ServerResult[] = [];
  try {
    for (const kind of KINDS) results.push(await measure(kind, stack));
  } finally {
    await stack.stop();
  }
  const p = (r: ServerResult, q: number) => quantile(r.latenciesMs, q);
  const baseline = results.find((r) => r.kind === 'reference');
  const fmt = (counts: Record<string, number>) =>
    Object.entries(counts)
      .map(([k, n]) => `${k} ×${n}`)
      .join('; ');
  const rows = results.map(
    (r) =>
      `| ${r.name} | ${r.revoked}/${r.replays} | ${p(r, 0.5)} | ${p(r, 0.99)} | ${Math.max(...r.latenciesMs)} | ${
        baseline && r !== baseline ? (p(r, 0.99) / p(baseline, 0.99)).toFixed(2) : '1.00'
      } | ${fmt(r.replayAnswers)} | ${fmt(r.outcomes)} |`,
  );
  const section = [
    `\`npm run bench:auth\` (BENCH_AUTH_REPLAYS=${REPLAYS}) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; ${machine(`Kafka ${KAFKA_VERSION}, ClickHouse 18.16, Keycloak ${DEFAULT_KEYCLOAK_VERSION}, oidc-provider 9`)}; the servers, tokenwatch (Kafka mode), ClickHouse and Kafka on the same machine.`,
    '',
    'Time from a replayed refresh token (sent by the thief from another network of the same city: only the replay can find it) to tokenwatch’s record of the server acknowledging the family’s revocation. Each server reports its own events to tokenwatch over HTTP (Keycloak: the listener jar; oidc-provider: the SDK plugin; the reference server: the SDK reporter). Baseline: the reference auth server in the same run. Keycloak’s reuse detection is off (its default): the replay succeeds there. oidc-provider refuses it and revokes the grant itself; tokenwatch still revokes (its notices reach the verifiers), answered `already_revoked`.',
    '',
    '| server | revoked | p50 ms | p99 ms | max ms | p99 / reference p99 | the server’s answer to the replay | how it ended |',
    '|---|---:|---:|---:|---:|---:|---|---|',
    ...rows,
    '',
    `Took ${Math.round((Date.now() - started) / 1000)} s.`,
  ].join('\n');
  const headlines: Headline[] = results
    .filter((r) => r !== baseline && baseline !== undefined)
    .map((r) =>
      headline({
        figure: `replay → revocation acknowledged by ${r.name}, p99 (${r.replays} replays)`,
        value: p(r, 0.99),
        unit: 'ms',
        baseline: `the reference auth server, same run: p99`,
        baselineValue: p(baseline!, 0.99),
        note: `p50 ${p(r, 0.5)} ms (reference ${p(baseline!, 0.5)} ms); revoked ${r.revoked}/${r.replays}`,
      }),
    );
  writeResults('Auth servers', section, 'auth-servers', { headline: headlines, results });
  console.log(section);
  if (results.some((r) => r.revoked < r.replays)) process.exitCode = 1;
}

await main();
