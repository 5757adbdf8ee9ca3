/**
 * `npm run demo -- --auth keycloak` (or `--auth oidc-provider`): the demo against a real auth server.
 * The local stack (ClickHouse + Kafka), tokenwatch, and the real server: Keycloak 26.x from Maven
 * Central with tokenwatch's event listener (revoking through its admin API as the realm's service
 * account), or an OP built on node-oidc-provider with the SDK's plugin and the revocation endpoint on
 * its models. Users log in at the server and refresh every few seconds; every 15 s a thief replays
 * one user's rotated refresh token — from abroad, then from another network in the user's own city
 * (no travel to see: only the replay itself) — and the demo shows tokenwatch's finding, the
 * revocation acknowledged by the server, and that the user's and the thief's next refresh are
 * refused there. It checks itself: the exit code is 1 when a replay was not revoked within 30 s.
 * Its own program (tools/run.sh sends `npm run demo -- --auth …` here): the demo image, which runs
 * tools/demo/, carries neither server.
 *
 *   npm run demo -- --auth keycloak --duration 60 --port 8080 --auth-port 8090
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { STATE_DIR } from '../local-stack/paths.ts';
import { requirePortsFree, stopChild, waitUntilReady } from '../local-stack/process.ts';
import { stackDown, stackRunning, stackUp } from '../local-stack/stack.ts';
import { ATTACKER_CITIES, CITIES, type City } from '../simulator/places.ts';
import { type RealServer, revocationSince, startRealServer } from './servers.ts';

type RealAuth = 'keycloak' | 'oidc-provider';
const REAL_AUTHS: readonly RealAuth[] = ['keycloak', 'oidc-provider'];

interface RealAuthDemoOptions {
  auth: RealAuth;
  /** seconds; 0: until Ctrl-C */
  durationS: number;
  /** where tokenwatch listens, and the auth server (oidc-provider; Keycloak's port is --auth-port too) */
  port: number;
  authPort: number;
  signal: AbortSignal;
  say: (msg: string) => void;
}

const API_KEY = 'demo-auth-key-0123456789abcdef';
const READ_KEY = 'demo-read-key-0123456789abcdef';
const TENANT = 'default';
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
const REFRESH_EVERY_MS = 4000;
const ATTACK_EVERY_MS = 15_000;
const FIRST_ATTACK_MS = 8000;
const REVOKE_WITHIN_MS = 30_000;
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        r();
      },
      { once: true },
    );
  });

/** One signed-in user at the real server: the current refresh token and the ones rotated away. */
interface Session {
  user: string;
  city: City;
  home: { city: string; ip: string };
  subject: string;
  family: string;
  refreshToken: string;
  rotatedAway: string[];
}

/** Runs the demo against a real server; resolves with the exit code. */
async function runRealAuthDemo(o: RealAuthDemoOptions): Promise<number> {
  const { say } = o;
  await requirePortsFree([
    ['tokenwatch (--port)', o.port],
    [`${o.auth} (--auth-port)`, o.authPort],
  ]);
  const stackWasUp = await stackRunning();
  say(stackWasUp ? 'local stack already running' : 'starting the local stack (ClickHouse + Kafka)…');
  const stack = await stackUp((m) => say(m), o.signal);
  const twUrl = `http://127.0.0.1:${o.port}`;
  const database = `tokenwatch_demo_${o.auth.replace('-', '_')}`;
  const env: Record<string, string> = {};
  let service: ChildProcess | undefined;
  let server: RealServer | undefined;
  const ch = createClient({
    url: stack.env['TOKENWATCH_CLICKHOUSE_URL']!,
    username: 'default',
    password: '',
  });
  const stopAll = async () => {
    await server?.stop().catch((err: Error) => say(`stopping ${o.auth}: ${err.message}`));
    if (service !== undefined) await stopChild(service);
    await ch.close();
    if (stack.started.clickhouse || stack.started.kafka) await stackDown((m) => say(m), stack.started);
  };
  try {
    const started = await startRealServer(o.auth, {
      port: o.authPort,
      tokenwatchUrl: twUrl,
      apiKey: API_KEY,
      tenant: TENANT,
      users: USERS,
      keycloakDir: `${STATE_DIR}/demo-keycloak`,
      say,
      signal: o.signal,
    });
    server = started.server;
    Object.assign(env, started.tokenwatchEnv);
    say(`starting tokenwatch on ${twUrl} (revoking through ${server.name})`);
    service = spawn(process.execPath, ['service/cli.ts', 'serve'], {
      env: {
        ...process.env,
        ...stack.env,
        ...env,
        TOKENWATCH_PORT: String(o.port),
        TOKENWATCH_HOST: '127.0.0.1',
        TOKENWATCH_CLICKHOUSE_DATABASE: database,
        TOKENWATCH_KAFKA_TOPICS: `${database}.events`,
        TOKENWATCH_KAFKA_DEAD_LETTER_TOPIC: `${database}.dlq`,
        TOKENWATCH_KAFKA_FINDINGS_TOPIC: `${database}.findings`,
        TOKENWATCH_KAFKA_REVOCATIONS_TOPIC: `${database}.revocations`,
        TOKENWATCH_DETECT_GROUP_ID: `${database}-detectors`,
        TOKENWATCH_API_KEYS: `${TENANT}:${API_KEY}:auth-server`,
        TOKENWATCH_READ_API_KEYS: `${TENANT}:${READ_KEY}`,
        TOKENWATCH_LOG_LEVEL: process.env['TOKENWATCH_LOG_LEVEL'] ?? 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    await waitUntilReady(twUrl, service, 'tokenwatch', 120_000);
    say(`ready. On a replay, ${server.name}: ${server.onReplay}.`);
    return await play(o, server, ch, database);
  } finally {
    await stopAll();
  }
}

/** The users' refreshes and the thief's replays until the duration is over; 1 when a replay was not revoked. */
async function play(
  o: RealAuthDemoOptions,
  server: RealServer,
  ch: ClickHouseClient,
  db: string,
): Promise<number> {
  const { say } = o;
  const sessions: Session[] = [];
  for (const [i, user] of USERS.entries()) {
    const city = CITIES[i % CITIES.length]!;
    const home = { city: city.name, ip: city.fixed[0]! };
    const t = await server.login(user, home.ip);
    sessions.push({ user, city, home, ...t, rotatedAway: [] });
    say(`${user} signed in from ${home.city} (${home.ip})`);
  }
  const started = Date.now();
  const endAt = o.durationS > 0 ? started + o.durationS * 1000 : Number.POSITIVE_INFINITY;
  let nextAttack = started + FIRST_ATTACK_MS;
  let attacks = 0;
  const latencies: number[] = [];
  const missed: string[] = [];
  while (!o.signal.aborted && Date.now() < endAt) {
    for (const s of sessions) {
      const r = await server.refresh(s.refreshToken, s.home.ip);
      if (r.refreshToken !== undefined) {
        s.rotatedAway.push(s.refreshToken);
        s.refreshToken = r.refreshToken;
      }
    }
    if (Date.now() >= nextAttack) {
      attacks++;
      const victim = sessions[(attacks - 1) % sessions.length]!;
      const abroad = attacks % 2 === 1;
      const far = ATTACKER_CITIES[attacks % ATTACKER_CITIES.length]!;
      const thief = abroad
        ? { where: far.name, ip: far.fixed[0]! }
        : { where: `${victim.city.name}, another network`, ip: victim.city.fixed.at(-1)! };
      const stolen = victim.rotatedAway.at(-1) ?? victim.refreshToken;
      const replayedAt = Date.now();
      const replay = await server.refresh(stolen, thief.ip);
      say(
        `[attack ${attacks}] ${victim.user}'s rotated refresh token replayed from ${thief.where} (${thief.ip}): ${server.name} answered ${replay.status}${replay.error ? ` "${replay.error}"` : ''}`,
      );
      const done = await waitFor(o.signal, () => revocationSince(ch, db, victim.subject, replayedAt));
      if (done === undefined) {
        missed.push(victim.user);
        say(
          `[attack ${attacks}] NOT revoked within ${REVOKE_WITHIN_MS / 1000} s (${victim.user}'s family ${victim.family})`,
        );
      } else {
        const ms = Number(done.at_ms) - replayedAt;
        latencies.push(ms);
        say(
          `[tokenwatch] ${done.detector} → family ${done.target_id} revoked at ${server.name}: ${done.status} (HTTP ${done.http_status}), ${ms} ms after the replay`,
        );
        const userNext = await server.refresh(victim.refreshToken, victim.home.ip);
        const thiefNext = replay.refreshToken
          ? await server.refresh(replay.refreshToken, thief.ip)
          : undefined;
        say(
          `[check] ${victim.user}'s next refresh: ${userNext.status} "${userNext.error}"` +
            (thiefNext ? `; the thief's: ${thiefNext.status} "${thiefNext.error}"` : '') +
            ` — ${victim.user} signs in again`,
        );
        Object.assign(victim, await server.login(victim.user, victim.home.ip), { rotatedAway: [] });
      }
      nextAttack = Date.now() + ATTACK_EVERY_MS;
    }
    await sleep(REFRESH_EVERY_MS, o.signal);
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  say(
    `${attacks} replays, ${latencies.length} revoked at ${server.name}` +
      (sorted.length > 0
        ? `; replay → revocation acknowledged: p50 ${sorted[Math.ceil(sorted.length / 2) - 1]} ms, max ${sorted.at(-1)} ms`
        : '') +
      (missed.length > 0 ? `; NOT revoked: ${missed.join(', ')}` : ''),
  );
  if (attacks === 0) say('no replay yet: run longer (--duration 30 or more) to see one');
  return missed.length > 0 ? 1 : 0;
}

async function waitFor<T>(signal: AbortSignal, probe: () => Promise<T | undefined>): Promise<T | undefined> {
  const until = Date.now() + REVOKE_WITHIN_MS;
  while (!signal.aborted && Date.now() < until) {
    const found = await probe();
    if (found !== undefined) return found;
    await sleep(50, signal);
  }
  return undefined;
}

const { values: args } = parseArgs({
  options: {
    auth: { type: 'string' },
    duration: { type: 'string', default: '0' },
    port: { type: 'string', default: '8080' },
    'auth-port': { type: 'string', default: '8090' },
  },
});
const say = (msg: string) => console.log(`[demo] ${msg}`);
const auth = REAL_AUTHS.find((a) => a === args.auth);
if (auth === undefined) {
  console.error(
    `--auth ${args.auth ?? '(missing)'}: use ${REAL_AUTHS.map((a) => `--auth ${a}`).join(' or ')}`,
  );
  process.exit(2);
}
const interrupted = new AbortController();
const interrupt = () => {
  say('interrupted: stopping what the demo started…');
  interrupted.abort();
};
process.on('SIGINT', interrupt);
process.on('SIGTERM', interrupt);
runRealAuthDemo({
  auth,
  durationS: Number(args.duration),
  port: Number(args.port),
  authPort: Number(args['auth-port']),
  signal: interrupted.signal,
  say,
}).then(
  (code) => process.exit(interrupted.signal.aborted ? 130 : code),
  (err: Error) => {
    console.error(`[demo] failed: ${err.message}`);
    process.exit(interrupted.signal.aborted ? 130 : 1);
  },
);
