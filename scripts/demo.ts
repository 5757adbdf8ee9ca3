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
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { pino } from 'pino';
import { pingClickHouse } from '../infra/clickhouse-server.ts';
import { REPO_ROOT, STACK_ENV_FILE } from '../infra/paths.ts';
import { STACK, stackDown, stackUp } from '../infra/stack.ts';
import { createKafka, createProducer } from '../ingest/kafka/client.ts';
import { verifyWebhookSignature } from '../response/webhooks/index.ts';
import { Denylist, type RevocationFollower } from '../sdk/src/index.ts';
import { createKafkaReporter, followRevocations } from '../sdk/src/kafka.ts';
import { type OrdersApi, startOrdersApi } from './orders-api.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '0' },
    rate: { type: 'string', default: '300' },
    port: { type: 'string', default: '8080' },
    'auth-port': { type: 'string', default: '8090' },
    'api-port': { type: 'string', default: '8070' },
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
    event_id: `demo-${process.pid}-${n}`,
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
      family_id: `family-${user}`,
      token_id: `rt-${n}`,
      new_token_id: `rt-${n + 1}`,
    };
  if (kind >= 12)
    return { ...base, type: 'verification', outcome: 'rejected', reason: 'expired', jti: `jti-${n}` };
  return {
    ...base,
    type: 'verification',
    outcome: 'accepted',
    reason: 'ok',
    jti: `jti-${n}`,
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
  constructor(url: string) {
    this.url = url;
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
      headers: { authorization: `Bearer ${AUTH_ADMIN_TOKEN}` },
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

/** A webhook receiver standing in for on-call: checks each alert's signature and prints its title. */
async function startAlertReceiver(): Promise<{ url: string; received: () => number; close: () => void }> {
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
        secret: WEBHOOK_SECRET,
        header: req.headers['tokenwatch-signature'],
        body,
      });
      const message = JSON.parse(body) as { alerts: { title: string }[] };
      say(
        `alert (signature ${check.ok ? 'verified' : `INVALID: ${check.reason}`}): ${message.alerts.map((a) => a.title).join(' | ')}`,
      );
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
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

async function progress(ch: ClickHouseClient) {
  const rs = await ch.query({
    query: `SELECT
        (SELECT count() FROM ${DATABASE}.events) AS events,
        (SELECT count() FROM ${DATABASE}.events WHERE time_ms > toUInt64(now() - 5) * 1000) AS last5s,
        (SELECT count() FROM ${DATABASE}.dead_letters) AS dead,
        (SELECT count() FROM ${DATABASE}.detections FINAL) AS findings,
        (SELECT groupArray(d) FROM (SELECT concat(toString(detector), ' ', toString(count())) AS d FROM ${DATABASE}.detections FINAL GROUP BY detector ORDER BY detector)) AS byDetector,
        (SELECT countIf(status = 'done') FROM ${DATABASE}.revocations) AS revoked,
        (SELECT groupArray(c) FROM (SELECT concat(country, ' ', toString(count())) AS c FROM ${DATABASE}.events WHERE country != '' GROUP BY country ORDER BY count() DESC LIMIT 4)) AS countries`,
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

async function main() {
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
  const alerts = await startAlertReceiver();
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
  const ch = createClient({ url: env['TOKENWATCH_CLICKHOUSE_URL'] });
  const kafka = createKafka(
    { brokers: [env['TOKENWATCH_KAFKA_BROKERS']!], clientId: 'tokenwatch-demo' },
    pino({ level: 'error' }),
  );
  const producer = createProducer(kafka);
  // The orders API: an SDK-built resource server reporting over Kafka, following revocations.
  const brokers = [env['TOKENWATCH_KAFKA_BROKERS']!];
  const sdkLogger = pino({ level: 'error' });
  const apiReporter = createKafkaReporter({ brokers, topic: TOPIC, logger: sdkLogger });
  const denylist = new Denylist({ logger: sdkLogger });
  let follower: RevocationFollower | undefined;
  let api: OrdersApi | undefined;
  let stopping = false;
  const timers: NodeJS.Timeout[] = [];

  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const t of timers) clearInterval(t);
    say('stopping: tokenwatch stores what it buffered, then exits');
    await producer.disconnect().catch(() => undefined);
    await api?.close();
    await follower?.close();
    await apiReporter.close();
    denylist.close();
    // The auth server first: it flushes its last events to tokenwatch, which then stores them.
    for (const child of [authServer, service]) {
      if (child.exitCode !== null) continue;
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    alerts.close();
    await ch.close();
    if (!stackWasUp) await stackDown((m) => say(m));
    else say('the local stack keeps running (npm run stack:down stops it)');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  await waitReady(url, service);
  await producer.connect();
  follower = followRevocations({ brokers, topic: `${TOPIC}.revocations`, denylist, logger: sdkLogger });
  api = await startOrdersApi({
    authUrl,
    reporter: apiReporter,
    denylist,
    tenant: 'default',
    source: 'orders-api',
    port: API_PORT,
  });
  const ordersApi = api;
  say('tokenwatch is ready. Where to look:');
  say(`  metrics      ${url}/metrics`);
  say(`  readiness    ${url}/readyz`);
  say(
    `  events       clickhouse-client --port ${STACK.clickhouseTcpPort} -q "SELECT type, outcome, reason, country, count() FROM ${DATABASE}.events GROUP BY type, outcome, reason, country"`,
  );
  say(
    `  dead letters clickhouse-client --port ${STACK.clickhouseTcpPort} -q "SELECT code, message FROM ${DATABASE}.dead_letters LIMIT 5"`,
  );
  say(`  findings     curl -H 'Authorization: Bearer ${READ_KEY}' '${url}/v1/detections?limit=5'`);
  say(
    `  revocations  clickhouse-client --port ${STACK.clickhouseTcpPort} -q "SELECT status, target_kind, target_id, http_status, latency_ms FROM ${DATABASE}.revocations ORDER BY time_ms DESC LIMIT 10"`,
  );
  say(`  auth server  curl -H 'Authorization: Bearer ${AUTH_ADMIN_TOKEN}' ${authUrl}/admin/revocations`);
  say(
    `  orders API   ${ordersApi.url}/orders (the SDK's fastify plugin; a bearer token from the auth server)`,
  );
  say(`  notices      curl -H 'Authorization: Bearer ${API_KEY}' '${url}/v1/revocations'`);
  say(
    `sending ${RATE} events/s, half through Kafka (${TOPIC}), half through POST /v1/events${DURATION_S > 0 ? ` for ${DURATION_S} s` : '; Ctrl-C stops'}`,
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
        .send({ topic: TOPIC, messages: toKafka })
        .catch((err: Error) => say(`Kafka send failed: ${err.message}`));
      const body = batch
        .slice(half)
        .map((e) => (typeof e === 'string' ? e : JSON.stringify(e)))
        .join('\n');
      fetch(`${url}/v1/events`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${API_KEY}` },
      }).catch((err: Error) => say(`POST failed: ${err.message}`));
    }, 100),
  );
  // A stolen refresh token replayed from abroad every 10 s (the first one after 3 s).
  const sendAttack = () => {
    attack(new AuthClient(authUrl), ordersApi).catch((err: Error) => say(`attack failed: ${err.message}`));
  };
  timers.push(setTimeout(sendAttack, 3000), setInterval(sendAttack, ATTACK_EVERY_MS));
  timers.push(
    setInterval(() => {
      progress(ch).then(
        (p) =>
          say(
            `stored ${p.events} events (${Math.round(Number(p.last5s) / 5)}/s), ${p.dead} dead letters, ${p.findings} findings (${p.byDetector.join(', ') || 'none yet'}), ${p.revoked} revocations, ${alerts.received()} alerts; top countries: ${p.countries.join(', ')}`,
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
