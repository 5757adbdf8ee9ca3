/** Helpers for integration tests: run the real service as a child process, talk to ClickHouse/Kafka/HTTP. */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { Kafka, logLevel } from 'kafkajs';
import { inject } from 'vitest';
import type { RevocationNotice } from '../../contract/revocation-notice-v1.ts';
import { REPO_ROOT } from '../../tools/local-stack/paths.ts';
import { freePort } from '../../tools/local-stack/process.ts';

export const API_KEY = 'test-key-0123456789abcdef';
/** reads every tenant's detections */
export const READ_KEY = 'read-key-0123456789abcdef';
/** a denylist key of TENANT (TOKENWATCH_DENYLIST_API_KEYS): GET /v1/revocations only, ids hashed */
export const DENYLIST_KEY = 'denylist-key-0123456789abcdef';
export const TENANT = 'acme';

export const unique = (prefix: string) => `${prefix}_${randomBytes(4).toString('hex')}`;

export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`,
  );
}

export function clickhouse(): ClickHouseClient {
  return createClient({ url: inject('clickhouseUrl'), request_timeout: 60_000 });
}

export async function queryRows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const rs = await client.query({ query, format: 'JSONEachRow' });
  return rs.json<T>();
}

export async function scalar(client: ClickHouseClient, query: string): Promise<number> {
  const [row] = await queryRows<Record<string, string | number>>(client, query);
  return Number(Object.values(row ?? { v: Number.NaN })[0]);
}

export interface RunningService {
  url: string;
  child: ChildProcess;
  output: () => string;
  /** SIGTERM and wait for a clean exit */
  stop(): Promise<number | null>;
  /** SIGKILL, no cleanup */
  kill(): Promise<void>;
}

export interface ServiceSetup {
  database: string;
  topic: string;
  env: Record<string, string>;
}

/** A fresh database, topic and group for one test, with the env the service needs for them. */
export function serviceSetup(opts: { kafka: boolean; extra?: Record<string, string> }): ServiceSetup {
  const database = unique('tw');
  const topic = unique('events');
  const env: Record<string, string> = {
    TOKENWATCH_CLICKHOUSE_URL: inject('clickhouseUrl'),
    TOKENWATCH_CLICKHOUSE_DATABASE: database,
    TOKENWATCH_API_KEYS: `${TENANT}:${API_KEY},other:other-key-0123456789abcdef`,
    TOKENWATCH_READ_API_KEYS: `*:${READ_KEY}`,
    TOKENWATCH_DENYLIST_API_KEYS: `${TENANT}:${DENYLIST_KEY}`,
    TOKENWATCH_LOG_LEVEL: 'info',
    TOKENWATCH_HOST: '127.0.0.1',
    ...(opts.kafka
      ? {
          TOKENWATCH_KAFKA_BROKERS: inject('kafkaBrokers'),
          TOKENWATCH_KAFKA_TOPICS: topic,
          TOKENWATCH_KAFKA_DEAD_LETTER_TOPIC: `${topic}.dlq`,
          TOKENWATCH_KAFKA_GROUP_ID: `${topic}-ingest`,
          TOKENWATCH_DETECT_GROUP_ID: `${topic}-detect`,
          TOKENWATCH_KAFKA_FINDINGS_TOPIC: `${topic}.findings`,
          // one guard per test's instances: tests that run one after another do not share a budget
          TOKENWATCH_KAFKA_GUARD_TOPIC: `${topic}.guard`,
          TOKENWATCH_KAFKA_TOPIC_PARTITIONS: '4',
        }
      : {}),
    ...opts.extra,
  };
  return { database, topic, env };
}

/** A Node script of the repo as a child process (PATH and `env` only), its last 200 kB of output kept. */
export function spawnScript(script: string, args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [`${REPO_ROOT}${script}`, ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-200_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/**
 * Starts `tokenwatch serve` as a child process (on `TOKENWATCH_PORT` when given) and waits until
 * /readyz says ready — `readyWithinMs` at most (a first start on a cluster migrates every version ON
 * CLUSTER, each a distributed DDL that waits for every replica: give it longer).
 */
export async function startService(
  env: Record<string, string>,
  readyWithinMs = 90_000,
): Promise<RunningService> {
  const port = env['TOKENWATCH_PORT'] ?? (await freePort());
  const { child, output, exited } = spawnScript('service/cli.ts', ['serve'], {
    ...env,
    TOKENWATCH_PORT: String(port),
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(
      'the service to be ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}:\n${output()}`);
        return (await fetch(`${url}/readyz`)).ok;
      },
      readyWithinMs,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n--- service output ---\n${output().slice(-5000)}`);
  }
  return {
    url,
    child,
    output,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface EventOptions {
  prefix: string;
  nowMs?: number;
  tenant?: string;
}

/** Public addresses with known geo, an IPv6 one, an IPv4-mapped one and a private one. */
export const IP_POOL = [
  '85.214.132.117',
  '200.147.67.142',
  '8.8.8.8',
  '81.2.69.160',
  '2a00:1450:4001:82b::200e',
  '::ffff:85.214.132.117',
  '10.1.2.3',
  '133.242.0.1',
  '41.76.108.46',
  '203.0.113.9',
];

/** Deterministic, valid events of every type. */
export function makeEvents(n: number, o: EventOptions): Record<string, unknown>[] {
  const now = o.nowMs ?? Date.now();
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const subject = `user-${i % 997}`;
    const base = {
      event_id: `${o.prefix}-${i}`,
      time: i % 2 === 0 ? now - (i % 60_000) : new Date(now - (i % 60_000)).toISOString(),
      tenant: o.tenant ?? TENANT,
      source: `gateway-${i % 3}`,
      subject,
      ip: IP_POOL[i % IP_POOL.length],
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0',
      device_id: `dev-${i % 1500}`,
      client_id: 'web',
      session_id: `sid-${i % 2000}`,
    };
    switch (i % 4) {
      case 0:
      case 1:
        out.push({
          ...base,
          type: 'verification',
          outcome: 'accepted',
          reason: 'ok',
          jti: `jti-${o.prefix}-${i}`,
          iss: 'https://auth.example',
          aud: 'api',
          kid: 'k1',
          alg: 'EdDSA',
          iat: Math.floor(now / 1000) - 60,
          exp: Math.floor(now / 1000) + 840,
        });
        break;
      case 2:
        out.push({
          ...base,
          type: 'verification',
          outcome: 'rejected',
          reason: 'expired',
          jti: `jti-${o.prefix}-${i}`,
        });
        break;
      default:
        out.push({
          ...base,
          type: 'refresh',
          outcome: 'rotated',
          reason: 'ok',
          family_id: `fam-${i % 500}`,
          token_id: `rt-${i}`,
          new_token_id: `rt-${i}-n`,
          access_jti: `jti-${o.prefix}-${i}-n`,
        });
    }
  }
  return out;
}

export function kafkaClient(): Kafka {
  process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';
  return new Kafka({
    brokers: [inject('kafkaBrokers')],
    clientId: 'tokenwatch-test',
    logLevel: logLevel.NOTHING,
  });
}

/** Produces events (or raw message values) to a topic, key tenant:subject, in chunks. */
export async function produce(
  kafka: Kafka,
  topic: string,
  values: (Record<string, unknown> | string)[],
  chunk = 2000,
) {
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < values.length; i += chunk) {
      await producer.send({
        topic,
        acks: -1,
        messages: values
          .slice(i, i + chunk)
          .map((v) =>
            typeof v === 'string'
              ? { key: 'acme:raw', value: v }
              : { key: `${v['tenant'] ?? 'default'}:${v['subject'] ?? ''}`, value: JSON.stringify(v) },
          ),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

const gzipAsync = promisify(gzip);

export interface PostResult {
  status: number;
  headers: Headers;
  body: {
    accepted?: number;
    rejected?: number;
    errors?: { index: number; code: string; message: string; field?: string }[];
    error?: string;
    message?: string;
  };
}

/** POSTs a body to /v1/events. */
export async function postRaw(
  url: string,
  body: string | Buffer,
  headers: Record<string, string>,
): Promise<PostResult> {
  const res = await fetch(`${url}/v1/events`, { method: 'POST', body, headers });
  const text = await res.text();
  let parsed: PostResult['body'];
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { message: text };
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** POSTs events as NDJSON (optionally gzipped) with the test tenant's key. */
export async function postEvents(
  url: string,
  events: (Record<string, unknown> | string)[],
  opts: { gzip?: boolean; key?: string } = {},
): Promise<PostResult> {
  const text = events.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n');
  const headers: Record<string, string> = {
    'content-type': 'application/x-ndjson',
    authorization: `Bearer ${opts.key ?? API_KEY}`,
  };
  if (opts.gzip) headers['content-encoding'] = 'gzip';
  return postRaw(url, opts.gzip ? await gzipAsync(text) : text, headers);
}

/** Posts many events in batches with a few concurrent requests; retries 503s after Retry-After. */
export async function postAll(
  url: string,
  events: Record<string, unknown>[],
  batch = 1000,
  concurrency = 4,
  key = API_KEY,
) {
  let next = 0;
  const worker = async () => {
    while (next < events.length) {
      const slice = events.slice(next, next + batch);
      next += batch;
      for (;;) {
        const res = await postEvents(url, slice, { gzip: true, key });
        if (res.status === 200) break;
        if (res.status !== 503)
          throw new Error(`POST /v1/events answered ${res.status}: ${JSON.stringify(res.body)}`);
        await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after') ?? '1') * 1000));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export interface RevocationsPage {
  status: number;
  headers: Headers;
  body: {
    notices?: ({ seq: number } & RevocationNotice)[];
    next_after?: number;
    more?: boolean;
    error?: string;
    message?: string;
  };
}

/** GET /v1/revocations with a key (none: no Authorization header) and query parameters. */
export async function getRevocations(
  url: string,
  key: string | undefined,
  query: Record<string, string | number> = {},
): Promise<RevocationsPage> {
  const qs = new URLSearchParams(
    Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]),
  ).toString();
  const res = await fetch(`${url}/v1/revocations${qs === '' ? '' : `?${qs}`}`, {
    headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as RevocationsPage['body'] };
}

/** Reads one Prometheus sample (sum over label sets matching `labels`). */
export async function metric(
  url: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}
