/**
 * `npm run demo`: the main job on local infrastructure. Brings up the local stack (a real ClickHouse
 * and Kafka), starts the reference auth server and tokenwatch (revoking through the auth server,
 * alerting a local signed-webhook receiver), and runs the traffic simulator on the real clock:
 * simulated users log in, call APIs and refresh through the auth server and SDK verifiers (an
 * "orders API" over HTTP, a gateway and a mobile backend in process; verifications reported over
 * Kafka, denylists following the revocation topic), and every 20 s an attacker strikes — a stolen
 * refresh token replayed from abroad first, then XSS, forgeries, a cloned token, a signature
 * flood, a revoked token. A trickle of hostile events goes to both doors. Shows live progress
 * (events, findings, revocations, alerts), each attack move and what came of it, each revocation
 * as it is acknowledged, and where to look. Ctrl-C stops cleanly.
 *
 *   npm run demo -- --duration 60     stop by itself after 60 s (default: run until Ctrl-C)
 *   npm run demo -- --rate 300        API calls per second, about (default 150)
 *   npm run demo -- --seed demo       the simulation's seed (same seed, same users and attacks)
 *   npm run demo -- --port 8080 --auth-port 8090 --api-port 8070   where tokenwatch, the auth server and the orders API listen
 *   npm run demo -- --auth keycloak      a real auth server instead of the reference one: Keycloak, or
 *   npm run demo -- --auth oidc-provider an OP on node-oidc-provider (tools/real-auth-demo/, its own program)
 *   node tools/demo/demo.ts --attach     start nothing: drive services that already run (the Docker Compose
 *                                     stack's), found through DEMO_* variables (tools/demo/attach.ts)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { pino } from 'pino';
import { type OrdersApi, startOrdersApi } from '../../examples/orders-api/orders-api.ts';
import { createKafka, createProducer } from '../../platform/kafka/client.ts';
import { verifyWebhookSignature } from '../../response/webhooks/index.ts';
import { Denylist, type RevocationFollower } from '../../sdk/src/index.ts';
import { createKafkaReporter, followRevocations } from '../../sdk/src/kafka.ts';
import { REPO_ROOT } from '../local-stack/paths.ts';
import { requirePortsFree, stopChild, waitUntilReady } from '../local-stack/process.ts';
import { STACK, stackDown, stackRunning, stackUp } from '../local-stack/stack.ts';
import { StartError } from '../local-stack/start-error.ts';
import { planAttack } from '../simulator/attacks.ts';
import { SimClock } from '../simulator/clock.ts';
import { type AttackEvent, Executor } from '../simulator/executor.ts';
import { VPN_EGRESS_CIDR } from '../simulator/places.ts';
import { type ApiPort, httpAuth, SIM_CLIENT, sdkApis } from '../simulator/ports.ts';
import { Random } from '../simulator/random.ts';
import { buildSimulation, type Simulation } from '../simulator/simulation.ts';
import { type AttackKind, type AttackLabel, byTime, type Step } from '../simulator/steps.ts';
import { type AttachOptions, attachOptions, attachRequested } from './attach.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '0' },
    rate: { type: 'string', default: '150' },
    seed: { type: 'string', default: 'demo' },
    port: { type: 'string', default: '8080' },
    'auth-port': { type: 'string', default: '8090' },
    'api-port': { type: 'string', default: '8070' },
    attach: { type: 'boolean', default: false },
    auth: { type: 'string', default: 'reference' },
  },
});
const DURATION_S = Number(args.duration);
const RATE = Number(args.rate);
const PORT = Number(args.port);
const AUTH_PORT = Number(args['auth-port']);
const API_PORT = Number(args['api-port']);
const AUTH_ADMIN_TOKEN = 'demo-admin-0123456789abcdef';
const AUTH_REVOKE_TOKEN = 'demo-revoke-0123456789abcdef';
const WEBHOOK_SECRET = 'demo-webhook-secret-0123456789';
const API_KEY = 'demo-key-0123456789abcdef';
const READ_KEY = 'demo-read-key-0123456789abcdef';
const ATTACK_EVERY_MS = 20_000;
const FIRST_ATTACK_MS = 10_000;
const SEED = args.seed;
/** the simulated day packed denser: each burst of use has 20× the calls at 1/20 of the gaps */
const PACKED_ACTIVITY = 20;
/** hours planned when the demo runs until Ctrl-C */
const PLAN_HOURS = 12;
const AUDIENCE = 'tokenwatch-demo-api';
const DATABASE = 'tokenwatch_demo';
const TOPIC = 'tokenwatch.demo.events';
const say = (msg: string) => console.log(`[demo] ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Scopes this run's synthetic ids (events, families, tokens), so a second run never repeats the first's. */
const RUN = `${process.pid}-${Date.now().toString(36)}`;

let hostileSeq = 0;
/** Hostile input a few times a second beside the simulated traffic: refused one by one into the dead-letter store. */
function hostileEvent(): string {
  const n = hostileSeq++;
  if (n % 2 === 0) return '{"event_id": "broken", "type": '; // malformed JSON
  return JSON.stringify({
    event_id: `hostile-${RUN}-${n}`,
    type: 'verification',
    time: Date.now(),
    tenant: 'default',
    source: 'edge-proxy',
    subject: 'user-00001',
    ip: '999.0.0.1', // not an address
    outcome: 'accepted',
    reason: 'ok',
  });
}

/** The demo's attacks, in this order: the first (a replayed refresh token) lands within a minute. */
const ATTACK_ORDER: readonly AttackKind[] = [
  'refresh_replay',
  'xss_parallel',
  'alg_none',
  'access_clone',
  'bad_signature_flood',
  'revoked_token',
];
/** Attack moves at 1/50 of an attacker's pace: minutes become seconds. */
const ATTACK_TEMPO = 0.02;

/**
 * The demo's attacks: one every ATTACK_EVERY_MS from FIRST_ATTACK_MS, kinds in ATTACK_ORDER order,
 * each on a user whose laptop is in use then (labels as in the evaluation).
 */
function demoAttacks(
  sim: Simulation,
  durationMs: number,
  rnd: Random,
): { steps: Step[]; labels: AttackLabel[] } {
  const out: { steps: Step[]; labels: AttackLabel[] } = { steps: [], labels: [] };
  const byUser = new Map(sim.users.map((u) => [u.subject, u]));
  const used = new Set<string>();
  for (let k = 0, at = FIRST_ATTACK_MS; at < durationMs - 60_000; k++, at += ATTACK_EVERY_MS) {
    const kind = ATTACK_ORDER[k % ATTACK_ORDER.length]!;
    const anchor = sim.steps.find(
      (s) => s.kind === 'call' && s.at >= at && s.device.endsWith('-laptop') && !used.has(s.subject),
    );
    if (anchor === undefined || anchor.kind !== 'call') continue;
    used.add(anchor.subject);
    const id = `A${String(k + 1).padStart(3, '0')}-${kind}`;
    const p = planAttack(
      kind,
      id,
      k,
      { user: byUser.get(anchor.subject)!, device: anchor.device, net: anchor.net, at: anchor.at - 30_000 },
      rnd,
      ATTACK_TEMPO,
    );
    out.steps.push(...p.steps);
    out.labels.push(...p.labels);
  }
  return out;
}

/**
 * How many simulated users make about `rate` API calls a second over the next ten minutes: it
 * depends on the hour (who is awake where), so it is measured on a sample of the plan.
 */
function usersFor(rate: number, startUtcMs: number): number {
  const sample = 1000;
  const window = 600_000;
  const probe = buildSimulation({
    seed: SEED,
    users: sample,
    durationMs: window,
    startUtcMs,
    attacksPerKind: 0,
    tenant: 'default',
    activity: PACKED_ACTIVITY,
  });
  const perUserS = probe.steps.length / sample / (window / 1000);
  return Math.min(200_000, Math.max(50, Math.round(rate / Math.max(perUserS, 1e-4))));
}

/** What a 401 from the orders API says, as a reason (the SDK's error_description). */
function reasonOf(body: Record<string, unknown>): string {
  const text = String(body['error_description'] ?? '');
  if (/revoked/.test(text)) return 'revoked';
  if (/"exp"|expired/.test(text)) return 'expired';
  return String(body['error'] ?? 'rejected');
}

/** The APIs the simulated clients call: the orders API over HTTP, the gateway and mobile backend in process. */
function demoApis(ordersApi: OrdersApi, inProcess: ApiPort): ApiPort {
  return {
    async call(source, token, caller) {
      if (source !== 'orders-api') return inProcess.call(source, token, caller);
      const res = await ordersApi.call(token, caller.ip, caller.deviceId, caller.userAgent);
      return res.status === 200 ? { ok: true } : { ok: false, reason: reasonOf(res.body) };
    },
    revoked: (jti, subject, expiresAtMs) => inProcess.revoked(jti, subject, expiresAtMs),
  };
}

/** Prints each attack move and what came of it; remembers when each attack began. */
function attackPrinter(labels: AttackLabel[]) {
  const byId = new Map(labels.map((l) => [l.id, l]));
  const begun = new Map<string, number>();
  return {
    begun,
    print(e: AttackEvent) {
      const label = byId.get(e.attack);
      if (e.step.kind === 'steal') {
        say(`attack ${e.attack}: ${label?.description ?? ''}`);
        return;
      }
      if (!begun.has(e.attack)) begun.set(e.attack, e.wallMs);
      const from = 'net' in e.step ? `${e.step.net.city} (${e.step.net.ip})` : '';
      const move =
        e.step.kind === 'thief_refresh'
          ? 'refresh token presented'
          : e.step.kind === 'forge'
            ? 'forgeries'
            : 'call';
      if (
        e.step.kind === 'thief_call' &&
        e.outcome === 'call accepted' &&
        begun.get(e.attack)! < e.wallMs - 1
      )
        return;
      say(`  ${e.attack} ${move} from ${from}: ${e.outcome}`);
    },
  };
}

/** The signed-webhook receiver the demo's alerts go to. */
interface AlertReceiver {
  url: string;
  received: () => number;
  close: () => void;
}

/** A webhook receiver standing in for on-call: checks each alert's signature and prints its title. */
async function startAlertReceiver(secret: string, host: string, port: number): Promise<AlertReceiver> {
  let received = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      received++;
      const check = verifyWebhookSignature({
        secret,
        header: req.headers['tokenwatch-signature'],
        body,
      });
      let titles: string;
      try {
        titles = (JSON.parse(body) as { alerts: { title: string }[] }).alerts.map((a) => a.title).join(' | ');
      } catch {
        titles = `(not a tokenwatch alert: ${body.slice(0, 80)})`;
      }
      say(`alert (signature ${check.ok ? 'verified' : `INVALID: ${check.reason}`}): ${titles}`);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: Error) =>
      reject(new Error(`alert receiver on ${host}:${port}: ${err.message}`)),
    );
    server.listen(port, host, resolve);
  });
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}/alerts`,
    received: () => received,
    close: () => server.close(),
  };
}

let revocationsSeenMs = Date.now();
/**
 * Prints each revocation tokenwatch made since the last call: what, whose, why, and how long after
 * the misuse (the detecting event) and after the attack's first move it was acknowledged.
 */
async function revocationsSince(
  ch: ClickHouseClient,
  db: string,
  labels: AttackLabel[],
  begun: Map<string, number>,
) {
  const rs = await ch
    .query({
      query: `SELECT subject, toString(target_kind) AS kind, detector, toString(status) AS status, time_ms, detected_ms
              FROM ${db}.revocations WHERE time_ms > ${revocationsSeenMs} AND status IN ('done', 'failed', 'suppressed')
              ORDER BY time_ms`,
      format: 'JSONEachRow',
    })
    .catch(() => undefined);
  if (rs === undefined) return;
  const rows = await rs.json<{
    subject: string;
    kind: string;
    detector: string;
    status: string;
    time_ms: string;
    detected_ms: string;
  }>();
  for (const r of rows) {
    revocationsSeenMs = Math.max(revocationsSeenMs, Number(r.time_ms));
    const attack = labels.find((l) => l.subject === r.subject);
    const began = attack === undefined ? undefined : begun.get(attack.id);
    say(
      `REVOKED (${r.status}): ${r.subject}'s ${r.kind} by ${r.detector}, acknowledged by the auth server ` +
        `${Number(r.time_ms) - Number(r.detected_ms)} ms after the misuse` +
        `${began === undefined ? '' : `, ${((Number(r.time_ms) - began) / 1000).toFixed(1)} s after ${attack!.id} began`}`,
    );
  }
}

/** This run's figures (since `sinceMs`): events, dead letters, findings, revocations, countries. */
async function progress(ch: ClickHouseClient, db: string, sinceMs: number) {
  const rs = await ch.query({
    query: `SELECT
        (SELECT count() FROM ${db}.events WHERE time_ms >= ${sinceMs}) AS events,
        (SELECT count() FROM ${db}.events WHERE time_ms > toUInt64(now() - 5) * 1000) AS last5s,
        (SELECT count() FROM ${db}.dead_letters WHERE received_ms >= ${sinceMs}) AS dead,
        (SELECT count() FROM ${db}.detections FINAL WHERE found_at_ms >= ${sinceMs}) AS findings,
        (SELECT groupArray(d) FROM (SELECT concat(toString(detector), ' ', toString(count())) AS d FROM ${db}.detections FINAL WHERE found_at_ms >= ${sinceMs} GROUP BY detector ORDER BY detector)) AS byDetector,
        (SELECT countIf(status = 'done') FROM ${db}.revocations WHERE time_ms >= ${sinceMs}) AS revoked,
        (SELECT groupArray(c) FROM (SELECT concat(country, ' ', toString(count())) AS c FROM ${db}.events WHERE time_ms >= ${sinceMs} AND country != '' GROUP BY country ORDER BY count() DESC LIMIT 4)) AS countries`,
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{
    events: string;
    last5s: string;
    dead: string;
    findings: string;
    byDetector: string[];
    revoked: string;
    countries: string[];
  }>();
  return row!;
}

/**
 * Where the demo's services are and how to talk to them: started here (startLocal, the default) or
 * already running elsewhere (attachTo, --attach). Everything after that is the same for both.
 */
interface Site {
  /** tokenwatch */
  url: string;
  authUrl: string;
  brokers: string[];
  clickhouse: { url: string; username: string; password: string; database: string };
  topic: string;
  revocationsTopic: string;
  apiKey: string;
  readKey: string;
  authAdminToken: string;
  alerts: AlertReceiver | undefined;
  /** a query as someone would run it by hand, for the "where to look" lines */
  sql: (query: string) => string;
  /** resolves once every service answers */
  ready: (clients: { ch: ClickHouseClient; kafka: Kafka }) => Promise<void>;
  /** stops what the demo started */
  shutdown: () => Promise<void>;
}

/** Aborted by Ctrl-C while the demo starts: the start stops what it had started. */
const starting = new AbortController();

/** The default: the local stack, the reference auth server and tokenwatch, as child processes. */
async function startLocal(): Promise<Site> {
  // the demo's own ports first: a taken one fails before anything is started
  await requirePortsFree([
    ['tokenwatch (--port)', PORT],
    ['the auth server (--auth-port)', AUTH_PORT],
    ['the orders API (--api-port)', API_PORT],
  ]);
  const stackWasUp = await stackRunning();
  say(
    stackWasUp
      ? 'local stack already running'
      : 'starting the local stack (ClickHouse + Kafka; the first run installs and downloads what it needs)…',
  );
  const stack = await stackUp((m) => say(m), starting.signal);
  const { env } = stack;
  const started: Started = { children: [] };
  /** Stops what startLocal started, and only that: what ran before keeps running. */
  const stopStarted = async () => {
    started.stopping = true;
    // The auth server first: it flushes its last events to tokenwatch, which then stores them.
    for (const child of started.children) await stopChild(child);
    started.alerts?.close();
    if (stack.started.clickhouse || stack.started.kafka) await stackDown((m) => say(m), stack.started);
    if (!stack.started.clickhouse || !stack.started.kafka)
      say('what ran before the demo keeps running (npm run stack:down stops it)');
  };
  try {
    return await startServices(env, started, stopStarted);
  } catch (err) {
    await stopStarted();
    throw err;
  }
}

/** What startServices has started so far. */
interface Started {
  children: ChildProcess[];
  alerts?: AlertReceiver;
  /** set once the demo stops them: an exit before that is news */
  stopping?: boolean;
}

/** Says so when a service the demo started ends before the demo stops it. */
function watchExit(child: ChildProcess, what: string, started: Started) {
  started.children.push(child);
  child.once('exit', (code, signal) => {
    if (!started.stopping)
      say(
        `${what} (pid ${child.pid}) ended unexpectedly: ${signal === null ? `exit code ${code}` : `signal ${signal}`}`,
      );
  });
}

/** The alert receiver, the reference auth server and tokenwatch, on the stack `env` names. */
async function startServices(
  env: Record<string, string>,
  started: Started,
  shutdown: () => Promise<void>,
): Promise<Site> {
  const url = `http://127.0.0.1:${PORT}`;
  const authUrl = `http://127.0.0.1:${AUTH_PORT}`;
  const alerts = await startAlertReceiver(WEBHOOK_SECRET, '127.0.0.1', 0);
  started.alerts = alerts;
  say(
    `starting the reference auth server on ${authUrl} (its own reuse detection off: tokenwatch catches replay)`,
  );
  const authServer = spawn(process.execPath, [`${REPO_ROOT}examples/auth-server/main.ts`], {
    env: {
      ...process.env,
      AUTH_HOST: '127.0.0.1',
      AUTH_PORT: String(AUTH_PORT),
      AUTH_TRUST_PROXY: 'true',
      AUTH_ALLOW_ANY_USER: 'true',
      AUTH_TENANT: 'default',
      AUTH_TOKENWATCH_URL: url,
      AUTH_TOKENWATCH_API_KEY: API_KEY,
      AUTH_REVOCATION_TOKEN: AUTH_REVOKE_TOKEN,
      AUTH_ADMIN_TOKEN: AUTH_ADMIN_TOKEN,
      AUTH_CLIENTS: `${SIM_CLIENT.id}:${SIM_CLIENT.secret}:revoke`,
      AUTH_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  watchExit(authServer, 'the reference auth server', started);
  say(`starting tokenwatch on ${url}`);
  const service = spawn(process.execPath, [`${REPO_ROOT}service/cli.ts`, 'serve'], {
    env: {
      ...process.env,
      ...env,
      TOKENWATCH_PORT: String(PORT),
      TOKENWATCH_HOST: '127.0.0.1',
      TOKENWATCH_CLICKHOUSE_DATABASE: DATABASE,
      TOKENWATCH_KAFKA_TOPICS: TOPIC,
      TOKENWATCH_KAFKA_DEAD_LETTER_TOPIC: `${TOPIC}.dlq`,
      TOKENWATCH_API_KEYS: `default:${API_KEY}`,
      TOKENWATCH_READ_API_KEYS: `default:${READ_KEY}`,
      TOKENWATCH_DETECT_GROUP_ID: 'tokenwatch-demo-detectors',
      TOKENWATCH_KAFKA_FINDINGS_TOPIC: `${TOPIC}.findings`,
      TOKENWATCH_KAFKA_REVOCATIONS_TOPIC: `${TOPIC}.revocations`,
      TOKENWATCH_AUTH_REVOKE_URL: `${authUrl}/v1/revocations`,
      TOKENWATCH_AUTH_TOKEN: AUTH_REVOKE_TOKEN,
      TOKENWATCH_WEBHOOK_URL: alerts.url,
      TOKENWATCH_WEBHOOK_SECRET: WEBHOOK_SECRET,
      TOKENWATCH_WEBHOOK_GROUP_WAIT_MS: '1000',
      TOKENWATCH_PUBLIC_URL: url,
      // the simulated corporate VPN's egress: allowlisted, as a deployment lists its VPNs and proxies
      TOKENWATCH_DETECT_ALLOWLIST: VPN_EGRESS_CIDR,
      TOKENWATCH_LOG_LEVEL: process.env['TOKENWATCH_LOG_LEVEL'] ?? 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  watchExit(service, 'tokenwatch', started);
  return {
    url,
    authUrl,
    brokers: [env['TOKENWATCH_KAFKA_BROKERS']!],
    clickhouse: {
      url: env['TOKENWATCH_CLICKHOUSE_URL']!,
      username: 'default',
      password: '',
      database: DATABASE,
    },
    topic: TOPIC,
    revocationsTopic: `${TOPIC}.revocations`,
    apiKey: API_KEY,
    readKey: READ_KEY,
    authAdminToken: AUTH_ADMIN_TOKEN,
    alerts,
    sql: (query) => `clickhouse-client --port ${STACK.clickhouseTcpPort} -q "${query}"`,
    ready: async () => {
      await waitUntilReady(
        authUrl,
        authServer,
        'the reference auth server',
        60_000,
        '/.well-known/openid-configuration',
      );
      await waitUntilReady(url, service, 'tokenwatch', 120_000);
    },
    shutdown,
  };
}

/** --attach: services that already run (the Docker Compose stack's); nothing is started but the alert receiver. */
async function attachTo(o: AttachOptions): Promise<Site> {
  say(
    `attach mode: tokenwatch ${o.tokenwatchUrl}, auth server ${o.authUrl}, Kafka ${o.brokers.join(',')}, ` +
      `ClickHouse ${o.clickhouse.url} (database ${o.clickhouse.database}); nothing is started here`,
  );
  const alerts =
    o.webhook === undefined
      ? undefined
      : await startAlertReceiver(o.webhook.secret, '0.0.0.0', o.webhook.port);
  say(
    alerts === undefined
      ? 'no alert receiver (DEMO_WEBHOOK_PORT unset): alerts go wherever tokenwatch sends them'
      : `alert receiver listening on port ${o.webhook!.port} (any path; tokenwatch's TOKENWATCH_WEBHOOK_URL points here)`,
  );
  return {
    url: o.tokenwatchUrl,
    authUrl: o.authUrl,
    brokers: o.brokers,
    clickhouse: o.clickhouse,
    topic: o.eventsTopic,
    revocationsTopic: o.revocationsTopic,
    apiKey: o.apiKey,
    readKey: o.readKey || '<read key>',
    authAdminToken: o.authAdminToken,
    alerts,
    sql: (query) => `${query}   (ClickHouse ${o.clickhouse.url}, user ${o.clickhouse.username})`,
    ready: (clients) => waitForServices(o, clients),
    async shutdown() {
      alerts?.close();
      say('the services keep running (attach mode)');
    },
  };
}

/** Why a fetch failed, in a few words (the cause's message: ECONNREFUSED, ENOTFOUND…). */
const fetchFailure = (err: Error) => (err.cause instanceof Error ? err.cause.message : err.message);

/** Attach mode: waits until tokenwatch, the auth server, ClickHouse and Kafka answer; fails at once on a wrong key. */
async function waitForServices(o: AttachOptions, { ch, kafka }: { ch: ClickHouseClient; kafka: Kafka }) {
  const deadline = Date.now() + o.waitSeconds * 1000;
  /** Calls `probe` every 2 s until it returns true; says why it waits every 15 s. A thrown error is fatal. */
  const waitFor = async (what: string, probe: () => Promise<true | string>) => {
    let saidAt = 0;
    for (;;) {
      const result = await probe();
      if (result === true) {
        if (saidAt > 0) say(`${what}: answering`);
        return;
      }
      if (Date.now() > deadline)
        throw new Error(
          `${what} still not answering after ${o.waitSeconds} s (DEMO_WAIT_SECONDS): ${result}`,
        );
      if (Date.now() - saidAt >= 15_000) {
        say(`waiting for ${what}: ${result}; retrying every 2 s`);
        saidAt = Date.now();
      }
      await sleep(2000);
    }
  };
  const get = (url: string, token?: string) =>
    fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }).catch(
      (err: Error) => err,
    );

  await waitFor(`tokenwatch at ${o.tokenwatchUrl}`, async () => {
    const res = await get(`${o.tokenwatchUrl}/readyz`);
    if (res instanceof Error) return fetchFailure(res);
    return res.ok || `not ready yet (${res.status} ${(await res.text()).slice(0, 300)})`;
  });
  const keyCheck = await get(`${o.tokenwatchUrl}/v1/revocations?limit=1`, o.apiKey);
  if (!(keyCheck instanceof Error) && (keyCheck.status === 401 || keyCheck.status === 403))
    throw new Error(
      `tokenwatch refuses DEMO_API_KEY (${keyCheck.status}): set it to a key of tenant default from its TOKENWATCH_API_KEYS`,
    );

  await waitFor(`the auth server at ${o.authUrl}`, async () => {
    const res = await get(`${o.authUrl}/.well-known/openid-configuration`);
    if (res instanceof Error) return fetchFailure(res);
    if (!res.ok) return `${res.status} from /.well-known/openid-configuration`;
    const { issuer } = (await res.json()) as { issuer: string };
    if (issuer !== o.authUrl)
      throw new Error(
        `the auth server's issuer is ${issuer}, but the demo reaches it at ${o.authUrl}: the orders API checks iss, ` +
          `so set the auth server's AUTH_ISSUER=${o.authUrl} (or DEMO_AUTH_URL=${issuer})`,
      );
    const admin = await get(`${o.authUrl}/admin/revocations`, o.authAdminToken);
    if (admin instanceof Error) return fetchFailure(admin);
    if (admin.status === 404)
      throw new Error(
        'the auth server has no /admin endpoints: set its AUTH_ADMIN_TOKEN (and DEMO_AUTH_ADMIN_TOKEN)',
      );
    if (admin.status === 401 || admin.status === 403)
      throw new Error(
        `the auth server refuses DEMO_AUTH_ADMIN_TOKEN (${admin.status}): set it to its AUTH_ADMIN_TOKEN`,
      );
    return admin.ok || `${admin.status} from /admin/revocations`;
  });

  const db = o.clickhouse.database;
  await waitFor(`ClickHouse at ${o.clickhouse.url}`, async () => {
    try {
      const rs = await ch.query({ query: `EXISTS TABLE ${db}.revocations`, format: 'JSONEachRow' });
      const [row] = await rs.json<{ result: number | string }>();
      if (Number(row?.result) === 1) return true;
      return `no table ${db}.revocations yet (DEMO_CLICKHOUSE_DATABASE must be tokenwatch's TOKENWATCH_CLICKHOUSE_DATABASE)`;
    } catch (err) {
      return (err as Error).message.split('\n')[0]!;
    }
  });

  await waitFor(`Kafka at ${o.brokers.join(',')}`, async () => {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const missing = [o.eventsTopic, o.revocationsTopic].filter((t) => !existing.has(t));
      return (
        missing.length === 0 ||
        `topic ${missing.join(', ')} missing (tokenwatch creates its topics; DEMO_EVENTS_TOPIC / DEMO_REVOCATIONS_TOPIC must be its own)`
      );
    } catch (err) {
      return (err as Error).message;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  });
}

/** What the demo advises when it could not start (a failed stack start brings its own advice). */
const FAILURE_ADVICE = [
  "the lines above are the services' own output: the first error there is usually the cause",
  `ports in use? --port (${PORT}), --auth-port (${AUTH_PORT}) and --api-port (${API_PORT}) choose others`,
  "npm run stack on its own shows the local stack's start; npm run stack -- status tells what runs",
];

/** Says why the demo failed and what to do. */
function reportFailure(err: Error) {
  console.error(`[demo] failed: ${err.message}`);
  if (!(err instanceof StartError))
    console.error(`What to do:\n${FAILURE_ADVICE.map((a) => `  - ${a}`).join('\n')}`);
}

async function main() {
  if (args.auth !== 'reference')
    throw new Error(
      `--auth ${args.auth}: this demo runs the reference auth server; the demo against Keycloak or oidc-provider is tools/real-auth-demo/real-auth.ts (npm run demo -- --auth keycloak, or --auth oidc-provider, runs it)`,
    );
  const attach = attachRequested(args.attach, process.env);
  // Ctrl-C while starting: the start is interrupted and stops what it had started.
  const interrupt = () => {
    say('interrupted: stopping what the demo started…');
    starting.abort();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  const site = attach ? await attachTo(attachOptions(process.env)) : await startLocal();
  process.off('SIGINT', interrupt);
  process.off('SIGTERM', interrupt);
  const { url, authUrl, brokers } = site;
  const ch = createClient({
    url: site.clickhouse.url,
    username: site.clickhouse.username,
    password: site.clickhouse.password,
  });
  const kafka = createKafka({ brokers, clientId: 'tokenwatch-demo' }, pino({ level: 'error' }));
  const producer = createProducer(kafka);
  // The orders API: an SDK-built resource server reporting over Kafka, following revocations.
  const sdkLogger = pino({ level: 'error' });
  const apiReporter = createKafkaReporter({ brokers, topic: site.topic, logger: sdkLogger });
  const denylist = new Denylist({ logger: sdkLogger });
  let follower: RevocationFollower | undefined;
  let api: OrdersApi | undefined;
  let stopping = false;
  let stopTraffic = () => {};
  const timers: NodeJS.Timeout[] = [];

  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    stopTraffic();
    for (const t of timers) clearInterval(t);
    say(attach ? 'stopping' : 'stopping: tokenwatch stores what it buffered, then exits');
    await producer.disconnect().catch(() => undefined);
    await api?.close();
    await follower?.close();
    await apiReporter.close();
    denylist.close();
    await ch.close();
    await site.shutdown();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  if (starting.signal.aborted) return stop(130);

  try {
    await site.ready({ ch, kafka });
    await producer.connect();
    follower = followRevocations({ brokers, topic: site.revocationsTopic, denylist, logger: sdkLogger });
    api = await startOrdersApi({
      authUrl,
      reporter: apiReporter,
      denylist,
      tenant: 'default',
      source: 'orders-api',
      port: API_PORT,
    });
    const ordersApi = api;
    const db = site.clickhouse.database;
    say('tokenwatch is ready. Where to look:');
    say(`  metrics      ${url}/metrics`);
    say(`  readiness    ${url}/readyz`);
    say(
      `  events       ${site.sql(`SELECT type, outcome, reason, country, count() FROM ${db}.events GROUP BY type, outcome, reason, country`)}`,
    );
    say(`  dead letters ${site.sql(`SELECT code, message FROM ${db}.dead_letters LIMIT 5`)}`);
    say(`  findings     curl -H 'Authorization: Bearer ${site.readKey}' '${url}/v1/detections?limit=5'`);
    say(
      `  revocations  ${site.sql(`SELECT status, target_kind, target_id, http_status, latency_ms FROM ${db}.revocations ORDER BY time_ms DESC LIMIT 10`)}`,
    );
    say(`  auth server  curl -H 'Authorization: Bearer ${site.authAdminToken}' ${authUrl}/admin/revocations`);
    say(
      `  orders API   ${ordersApi.url}/orders (the SDK's fastify plugin; a bearer token from the auth server)`,
    );
    say(`  notices      curl -H 'Authorization: Bearer ${site.apiKey}' '${url}/v1/revocations'`);
    say(
      `sending ${RATE} events/s, half through Kafka (${site.topic}), half through POST /v1/events${DURATION_S > 0 ? ` for ${DURATION_S} s` : '; Ctrl-C stops'}`,
    );

    // The simulated users, through the auth server and the APIs, on the real clock; attacks mixed in.
    const clock = new SimClock(false);
    const planMs = DURATION_S > 0 ? DURATION_S * 1000 + 60_000 : PLAN_HOURS * 3_600_000;
    const sim = buildSimulation({
      seed: SEED,
      users: usersFor(RATE, clock.startMs),
      durationMs: planMs,
      startUtcMs: clock.startMs,
      attacksPerKind: 0,
      tenant: 'default',
      activity: PACKED_ACTIVITY,
    });
    const attacks = demoAttacks(sim, planMs, new Random(`${SEED}/demo-attacks`));
    const steps = [...sim.steps, ...attacks.steps].sort(byTime);
    const printer = attackPrinter(attacks.labels);
    const executor = new Executor({
      users: sim.users,
      auth: httpAuth(authUrl, SIM_CLIENT),
      api: demoApis(
        ordersApi,
        sdkApis({
          issuer: authUrl,
          audience: AUDIENCE,
          jwksUrl: `${authUrl}/.well-known/jwks.json`,
          reporter: apiReporter,
          denylist,
          tenant: 'default',
          now: clock.now,
        }),
      ),
      clock,
      seed: SEED,
      onAttackStep: (e) => printer.print(e),
    });
    stopTraffic = () => executor.stop();
    say(
      `simulating ${sim.users.length} users (seed ${SEED}: home cities on six continents, laptops, phones switching ` +
        `Wi-Fi and mobile data, VPN users, flights) — about ${Math.round(sim.steps.filter((x) => x.at < Math.min(600_000, planMs)).length / (Math.min(600_000, planMs) / 1000))} ` +
        `API calls/s — with an attack every ${ATTACK_EVERY_MS / 1000} s from ${FIRST_ATTACK_MS / 1000} s${DURATION_S > 0 ? `, for ${DURATION_S} s` : '; Ctrl-C stops'}`,
    );
    executor.run(steps).catch((err: Error) => say(`simulation failed: ${err.message}`));
    // Hostile input beside it, half through each door, refused event by event into the dead letters.
    timers.push(
      setInterval(() => {
        producer
          .send({ topic: site.topic, messages: [{ key: 'default:user-00001', value: hostileEvent() }] })
          .catch((err: Error) => say(`Kafka send failed: ${err.message}`));
        fetch(`${url}/v1/events`, {
          method: 'POST',
          body: hostileEvent(),
          headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${site.apiKey}` },
        }).catch((err: Error) => say(`POST failed: ${err.message}`));
      }, 1000),
    );
    timers.push(setInterval(() => void revocationsSince(ch, db, attacks.labels, printer.begun), 1000));
    const demoStartMs = Date.now(); // the database may hold earlier runs: this run's numbers only
    timers.push(
      setInterval(() => {
        progress(ch, db, demoStartMs).then(
          (p) =>
            say(
              `stored ${p.events} events (${Math.round(Number(p.last5s) / 5)}/s), ${p.dead} dead letters, ${p.findings} findings (${p.byDetector.join(', ') || 'none yet'}), ${p.revoked} revocations${site.alerts === undefined ? '' : `, ${site.alerts.received()} alerts`}; top countries: ${p.countries.join(', ')}`,
            ),
          (err: Error) => say(`progress query failed: ${err.message}`),
        );
      }, 2000),
    );
    if (DURATION_S > 0) setTimeout(() => void stop(0), DURATION_S * 1000);
  } catch (err) {
    reportFailure(err as Error);
    await stop(1);
  }
}

main().catch((err: Error) => {
  reportFailure(err);
  process.exit(starting.signal.aborted ? 130 : 1);
});
