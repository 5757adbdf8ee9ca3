/**
 * `npm run demo`: the main job on local infrastructure. Brings up the local stack (a real ClickHouse
 * and Kafka), starts the reference auth server and tokenwatch (revoking through the auth server,
 * alerting a local signed-webhook receiver), sends demo traffic through both doors (Kafka and HTTP,
 * including a few hostile events), and every 10 s a thief replays a victim's refresh token from
 * abroad at the auth server and uses the access token it got at an "orders API" built with the
 * SDK (its verifications reported over Kafka, its denylist following the revocation topic). Shows
 * live progress (events, findings, revocations, alerts), each revocation as it lands — at the auth
 * server and at the orders API — and where to look. Ctrl-C stops cleanly.
 *
 *   npm run demo -- --duration 60     stop by itself after 60 s (default: run until Ctrl-C)
 *   npm run demo -- --rate 500        events per second (default 300)
 *   npm run demo -- --port 8080 --auth-port 8090 --api-port 8070   where tokenwatch, the auth server and the orders API listen
 *   node scripts/demo.ts --attach     start nothing: drive services that already run (the Docker Compose
 *                                     stack's), found through DEMO_* variables (scripts/demo-attach.ts)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { pino } from 'pino';
import { pingClickHouse } from '../infra/clickhouse-server.ts';
import { REPO_ROOT, STACK_ENV_FILE } from '../infra/paths.ts';
import { STACK, stackDown, stackUp } from '../infra/stack.ts';
import { createKafka, createProducer } from '../ingest/kafka/client.ts';
import { verifyWebhookSignature } from '../response/webhooks/index.ts';
import { Denylist, type RevocationFollower } from '../sdk/src/index.ts';
import { createKafkaReporter, followRevocations } from '../sdk/src/kafka.ts';
import { type AttachOptions, attachOptions, attachRequested } from './demo-attach.ts';
import { type OrdersApi, startOrdersApi } from './orders-api.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '0' },
    rate: { type: 'string', default: '300' },
    port: { type: 'string', default: '8080' },
    'auth-port': { type: 'string', default: '8090' },
    'api-port': { type: 'string', default: '8070' },
    attach: { type: 'boolean', default: false },
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
const ATTACK_EVERY_MS = 10_000;
const DATABASE = 'tokenwatch_demo';
const TOPIC = 'tokenwatch.demo.events';
const say = (msg: string) => console.log(`[demo] ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Scopes this run's synthetic ids (events, families, tokens), so a second run never repeats the first's. */
const RUN = `${process.pid}-${Date.now().toString(36)}`;

/** Where demo users live: a public address with a known location each. */
const HOMES = [
  { city: 'Berlin', ip: '85.214.132.117' },
  { city: 'Rio de Janeiro', ip: '200.147.67.142' },
  { city: 'Frankfurt (IPv6)', ip: '2a00:1450:4001:82b::200e' },
  { city: 'Tokyo', ip: '133.242.0.1' },
  { city: 'US', ip: '8.8.8.8' },
  { city: 'Cape Town', ip: '41.76.108.46' },
];

let seq = 0;
/** One demo event: mostly accepted verifications, some expired ones, refresh rotations, now and then a hostile one. */
function demoEvent(): Record<string, unknown> | string {
  const n = seq++;
  const user = n % 50;
  const home = HOMES[user % HOMES.length]!;
  const base = {
    event_id: `demo-${RUN}-${n}`,
    time: Date.now(),
    tenant: 'default',
    source: `api-gateway-${n % 3}`,
    subject: `user-${user}`,
    ip: home.ip,
    user_agent: 'Mozilla/5.0 (demo)',
    device_id: `device-${user}`,
    session_id: `session-${user}`,
  };
  const kind = n % 20;
  if (kind === 19) return '{"event_id": "broken", "type": '; // malformed: dead-lettered, the rest goes on
  if (kind === 18)
    return { ...base, ip: '999.0.0.1', type: 'verification', outcome: 'accepted', reason: 'ok' };
  if (kind >= 15)
    return {
      ...base,
      type: 'refresh',
      outcome: 'rotated',
      reason: 'ok',
      family_id: `family-${RUN}-${user}`,
      token_id: `rt-${RUN}-${n}`,
      new_token_id: `rt-${RUN}-${n + 1}`,
    };
  if (kind >= 12)
    return { ...base, type: 'verification', outcome: 'rejected', reason: 'expired', jti: `jti-${RUN}-${n}` };
  return {
    ...base,
    type: 'verification',
    outcome: 'accepted',
    reason: 'ok',
    jti: `jti-${RUN}-${n}`,
    iss: 'https://auth.demo',
    aud: 'api',
    alg: 'EdDSA',
    kid: 'demo-1',
  };
}

/** The thief's places: far from every demo home. */
const ABROAD = [
  { city: 'São Paulo', ip: '200.147.67.142' },
  { city: 'Tokyo', ip: '133.242.0.1' },
];

/** The reference auth server, as the demo's users and thief talk to it (X-Forwarded-For: where they are). */
class AuthClient {
  readonly url: string;
  readonly adminToken: string;
  constructor(url: string, adminToken: string) {
    this.url = url;
    this.adminToken = adminToken;
  }

  async token(form: Record<string, string>, ip: string, device: string) {
    const res = await fetch(`${this.url}/oauth/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-forwarded-for': ip,
        'x-device-id': device,
        'user-agent': device.startsWith('thief') ? 'python-requests/2.32' : 'Mozilla/5.0 (demo)',
      },
      body: new URLSearchParams(form).toString(),
    });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  }

  async revocationsReceived(): Promise<number> {
    const res = await fetch(`${this.url}/admin/revocations`, {
      headers: { authorization: `Bearer ${this.adminToken}` },
    });
    const body = (await res.json()) as { revocations: { status_code: number }[] };
    return body.revocations.filter((r) => r.status_code === 200).length;
  }
}

let attacks = 0;
/**
 * A stolen refresh token, for real at the reference auth server: the victim logs in and refreshes
 * from home; the thief presents the victim's previous refresh token from abroad on another device
 * (the server's own reuse detection is off, so it hands the thief a fresh pair). tokenwatch should
 * revoke the family; the demo then shows the thief's next refresh failing, and the victim's.
 */
async function attack(auth: AuthClient, api: OrdersApi) {
  const k = attacks++;
  const victim = `victim-${k}`;
  const home = HOMES[k % HOMES.length]!;
  // far from home: never the victim's own country
  const thief = ABROAD[home.city === 'Tokyo' ? 0 : home.city === 'Rio de Janeiro' ? 1 : k % ABROAD.length]!;
  const login = await auth.token(
    { grant_type: 'password', username: victim, password: victim },
    home.ip,
    `laptop-${victim}`,
  );
  if (login.status !== 200)
    throw new Error(`login of ${victim}: ${login.status} ${JSON.stringify(login.body)}`);
  const fresh = await auth.token(
    { grant_type: 'refresh_token', refresh_token: login.body['refresh_token']! },
    home.ip,
    `laptop-${victim}`,
  );
  await new Promise((r) => setTimeout(r, 1000));
  const before = await auth.revocationsReceived();
  const replayedAt = Date.now();
  const stolen = await auth.token(
    { grant_type: 'refresh_token', refresh_token: login.body['refresh_token']! },
    thief.ip,
    'thief-laptop',
  );
  say(
    `attack: ${victim} (${home.city}) — their previous refresh token replayed from ${thief.city}; the auth server answered ${stolen.status}`,
  );
  void thiefAtOrdersApi(api, stolen.body['access_token'] ?? '', thief.ip, replayedAt);
  for (let waited = 0; waited < 10_000; waited += 100) {
    if ((await auth.revocationsReceived()) > before) {
      const thiefNext = await auth.token(
        { grant_type: 'refresh_token', refresh_token: stolen.body['refresh_token'] ?? '' },
        thief.ip,
        'thief-laptop',
      );
      const victimNext = await auth.token(
        { grant_type: 'refresh_token', refresh_token: fresh.body['refresh_token'] ?? '' },
        home.ip,
        `laptop-${victim}`,
      );
      say(
        `revoked: ${victim}'s token family revoked at the auth server ${Date.now() - replayedAt} ms after the replay; ` +
          `thief's next refresh → ${thiefNext.status} ${thiefNext.body['error'] ?? ''}, ${victim}'s → ${victimNext.status} (must log in again)`,
      );
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  say(`attack on ${victim}: no revocation reached the auth server within 10 s`);
}

/** The thief uses the stolen access token at the orders API until its denylist refuses it. */
async function thiefAtOrdersApi(api: OrdersApi, token: string, ip: string, replayedAt: number) {
  let served = 0;
  for (let waited = 0; waited < 10_000; waited += 20) {
    const res = await api.call(token, ip, 'thief-laptop');
    if (res.status === 200) served++;
    else {
      say(
        `orders API: the thief's access token refused (${res.status} ${res.body['error_description']}) ` +
          `${Date.now() - replayedAt} ms after the replay, by the SDK's denylist — ${served} calls served before`,
      );
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  say("orders API: the thief's access token was still accepted 10 s after the replay");
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

async function waitReady(url: string, child: ChildProcess) {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null)
      throw new Error(`tokenwatch exited with code ${child.exitCode}; see its log above`);
    if (
      await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('tokenwatch did not become ready within 60 s');
}

async function progress(ch: ClickHouseClient, db: string) {
  const rs = await ch.query({
    query: `SELECT
        (SELECT count() FROM ${db}.events) AS events,
        (SELECT count() FROM ${db}.events WHERE time_ms > toUInt64(now() - 5) * 1000) AS last5s,
        (SELECT count() FROM ${db}.dead_letters) AS dead,
        (SELECT count() FROM ${db}.detections FINAL) AS findings,
        (SELECT groupArray(d) FROM (SELECT concat(toString(detector), ' ', toString(count())) AS d FROM ${db}.detections FINAL GROUP BY detector ORDER BY detector)) AS byDetector,
        (SELECT countIf(status = 'done') FROM ${db}.revocations) AS revoked,
        (SELECT groupArray(c) FROM (SELECT concat(country, ' ', toString(count())) AS c FROM ${db}.events WHERE country != '' GROUP BY country ORDER BY count() DESC LIMIT 4)) AS countries`,
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

/** The default: the local stack, the reference auth server and tokenwatch, as child processes. */
async function startLocal(): Promise<Site> {
  const stackWasUp =
    existsSync(STACK_ENV_FILE) &&
    (await pingClickHouse(`http://127.0.0.1:${STACK.clickhouseHttpPort}`).catch(() => false));
  say(
    stackWasUp
      ? 'local stack already running'
      : 'starting the local stack (ClickHouse + Kafka; the first run installs and downloads what it needs)…',
  );
  const env = await stackUp((m) => say(m));

  const url = `http://127.0.0.1:${PORT}`;
  const authUrl = `http://127.0.0.1:${AUTH_PORT}`;
  const alerts = await startAlertReceiver(WEBHOOK_SECRET, '127.0.0.1', 0);
  say(
    `starting the reference auth server on ${authUrl} (its own reuse detection off: tokenwatch catches replay)`,
  );
  const authServer = spawn(process.execPath, [`${REPO_ROOT}auth-server/main.ts`], {
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
      AUTH_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  say(`starting tokenwatch on ${url}`);
  const service = spawn(process.execPath, [`${REPO_ROOT}ingest/cli.ts`, 'serve'], {
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
      TOKENWATCH_LOG_LEVEL: process.env['TOKENWATCH_LOG_LEVEL'] ?? 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
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
    ready: () => waitReady(url, service),
    async shutdown() {
      // The auth server first: it flushes its last events to tokenwatch, which then stores them.
      for (const child of [authServer, service]) {
        if (child.exitCode !== null) continue;
        const exited = new Promise((r) => child.on('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      alerts.close();
      if (!stackWasUp) await stackDown((m) => say(m));
      else say('the local stack keeps running (npm run stack:down stops it)');
    },
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

async function main() {
  const attach = attachRequested(args.attach, process.env);
  const site = attach ? await attachTo(attachOptions(process.env)) : await startLocal();
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
  const timers: NodeJS.Timeout[] = [];

  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
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

  // Traffic: every 100 ms, RATE/10 events split between the two doors.
  const perTick = Math.max(2, Math.round(RATE / 10));
  timers.push(
    setInterval(() => {
      const batch = Array.from({ length: perTick }, demoEvent);
      const half = batch.length / 2;
      const toKafka = batch.slice(0, half).map((e) => ({
        key: typeof e === 'string' ? 'default:' : `default:${e['subject']}`,
        value: typeof e === 'string' ? e : JSON.stringify(e),
      }));
      producer
        .send({ topic: site.topic, messages: toKafka })
        .catch((err: Error) => say(`Kafka send failed: ${err.message}`));
      const body = batch
        .slice(half)
        .map((e) => (typeof e === 'string' ? e : JSON.stringify(e)))
        .join('\n');
      fetch(`${url}/v1/events`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${site.apiKey}` },
      }).catch((err: Error) => say(`POST failed: ${err.message}`));
    }, 100),
  );
  // A stolen refresh token replayed from abroad every 10 s (the first one after 3 s).
  const sendAttack = () => {
    attack(new AuthClient(authUrl, site.authAdminToken), ordersApi).catch((err: Error) =>
      say(`attack failed: ${err.message}`),
    );
  };
  timers.push(setTimeout(sendAttack, 3000), setInterval(sendAttack, ATTACK_EVERY_MS));
  timers.push(
    setInterval(() => {
      progress(ch, db).then(
        (p) =>
          say(
            `stored ${p.events} events (${Math.round(Number(p.last5s) / 5)}/s), ${p.dead} dead letters, ${p.findings} findings (${p.byDetector.join(', ') || 'none yet'}), ${p.revoked} revocations${site.alerts === undefined ? '' : `, ${site.alerts.received()} alerts`}; top countries: ${p.countries.join(', ')}`,
          ),
        (err: Error) => say(`progress query failed: ${err.message}`),
      );
    }, 2000),
  );
  if (DURATION_S > 0) setTimeout(() => void stop(0), DURATION_S * 1000);
}

main().catch((err: Error) => {
  console.error(`[demo] failed: ${err.message}`);
  process.exit(1);
});
