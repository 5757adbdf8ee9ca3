/**
 * Sends a hostile corpus (tools/bench/hostile-corpus.ts) through both doors of a running tokenwatch —
 * NDJSON requests over HTTP (some gzipped) and raw Kafka messages — while probing /healthz, then
 * checks the reliability contract against what ClickHouse holds: every good event stored exactly
 * once, every bad one dead-lettered with its code, no raw token and no malformed UTF-8 in any table,
 * the event loop never held past the bound, no 5xx, the process never restarted. Returns a report
 * whose `violations` list is empty when the contract held.
 */
import { spawn } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { type Door, type HostileItem, hostileCorpus, TOKEN_MARKERS } from './hostile-corpus.ts';

export interface HostileRunOptions {
  url: string;
  apiKey: string;
  tenant: string;
  clickhouse: ClickHouseClient;
  clickhouseUrl: string;
  database: string;
  kafka: Kafka;
  topic: string;
  /** hostile items in all, shared between the doors (60% HTTP) */
  count: number;
  seed: number;
  /** events per HTTP request */
  batch?: number;
  /** how long to wait for everything to be stored */
  settleMs?: number;
  log?: (line: string) => void;
}

export interface HostileReport {
  seed: number;
  items: number;
  /** items of a hostile class (all but plain good events) */
  hostile: number;
  /** items that must be stored (plain good events and hostile-but-valid ones) */
  good: number;
  classes: { cls: string; door: Door; expect: string; count: number }[];
  http: { requests: number; statuses: Record<string, number> };
  /** the longest the service's event loop was held by work (tokenwatch_event_loop_blocked_max_seconds) */
  maxEventLoopBlockedMs: number;
  /** the latest a 10 ms timer of the service fired (nodejs_eventloop_lag_max_seconds: includes time the OS gave others) */
  maxEventLoopDelayMs: number;
  /** the same lateness in an idle Node process on the same machine meanwhile: what scheduling alone costs */
  idleProcessDelayMs: number;
  healthz: { probes: number; failures: number; maxMs: number };
  seconds: number;
  violations: string[];
}

const bodyOf = (items: HostileItem[]) =>
  Buffer.concat(
    items.flatMap((i) => [typeof i.body === 'string' ? Buffer.from(i.body) : i.body, Buffer.from('\n')]),
  );

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
}

/**
 * Reads every row of each table as ClickHouse sends them: they must be valid UTF-8 (a lone
 * surrogate or a character cut in half fails the strict decoder) and hold no raw token part.
 */
async function scanTables(o: HostileRunOptions, tables: string[]): Promise<string[]> {
  const problems: string[] = [];
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (const table of tables) {
    const res = await fetch(o.clickhouseUrl, {
      method: 'POST',
      body: `SELECT * FROM ${o.database}.${table} FORMAT TabSeparated`,
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      problems.push(`${table} holds bytes that are not valid UTF-8`);
      text = Buffer.from(bytes).toString('utf8');
    }
    for (const marker of TOKEN_MARKERS)
      if (text.includes(marker)) problems.push(`a raw token part is stored in ${table}`);
  }
  return problems;
}

export async function runHostile(o: HostileRunOptions): Promise<HostileReport> {
  const started = Date.now();
  const say = o.log ?? (() => undefined);
  const nowMs = Date.now();
  const httpCount = Math.round(o.count * 0.6);
  const corpus: Record<Door, HostileItem[]> = {
    http: hostileCorpus({
      door: 'http',
      count: httpCount,
      seed: o.seed,
      tenant: o.tenant,
      nowMs,
      prefix: 'fz-h',
    }),
    kafka: hostileCorpus({
      door: 'kafka',
      count: o.count - httpCount,
      seed: o.seed + 1,
      tenant: o.tenant,
      nowMs,
      prefix: 'fz-k',
    }),
  };
  const violations: string[] = [];
  const statuses: Record<string, number> = {};
  const classes = new Map<string, { cls: string; door: Door; expect: string; count: number }>();
  const expectLetters = new Map<string, number>();
  for (const door of ['http', 'kafka'] as const)
    for (const item of corpus[door]) {
      const k = `${door}\0${item.cls}`;
      const c = classes.get(k) ?? { cls: item.cls, door, expect: item.expect, count: 0 };
      c.count++;
      classes.set(k, c);
      if (item.expect !== 'stored')
        expectLetters.set(`${door}:${item.expect}`, (expectLetters.get(`${door}:${item.expect}`) ?? 0) + 1);
    }
  const all = [...corpus.http, ...corpus.kafka];
  const goodIds = all.flatMap((i) => (i.eventId === undefined ? [] : [i.eventId]));
  const hostile = all.filter((i) => i.cls !== 'good').length;
  say(
    `hostile corpus: ${o.count} items in ${classes.size} door × class pairs, ${goodIds.length} to be stored (seed ${o.seed})`,
  );

  const pid = await metric(o.url, 'tokenwatch_process_start_time_seconds');
  // Each scrape resets both loop figures: read them once now, then every second.
  await metric(o.url, 'tokenwatch_nodejs_eventloop_lag_max_seconds');
  let maxLagS = 0;
  let maxBlockedS = 0;
  const sampleLoop = async () => {
    const text = await (await fetch(`${o.url}/metrics`)).text();
    const value = (name: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`${name} `))
          ?.split(' ')[1] ?? 0,
      );
    maxLagS = Math.max(maxLagS, value('tokenwatch_nodejs_eventloop_lag_max_seconds'));
    maxBlockedS = Math.max(maxBlockedS, value('tokenwatch_event_loop_blocked_max_seconds'));
  };
  // The baseline: an idle Node process's lateness on the same machine in the same time.
  const idle = spawn(
    process.execPath,
    [
      '-e',
      "const h=require('node:perf_hooks').monitorEventLoopDelay({resolution:10});h.enable();process.on('SIGTERM',()=>{process.stdout.write(String(h.max/1e6));process.exit(0)});setInterval(()=>{},1000)",
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let idleOut = '';
  idle.stdout.on('data', (c: Buffer) => {
    idleOut += c;
  });
  const idleDone = new Promise((r) => idle.on('exit', r));
  // /healthz every 50 ms throughout; the lag metric sampled every second (each scrape resets it).
  const healthz = { probes: 0, failures: 0, maxMs: 0 };
  let probing = true;
  const prober = (async () => {
    let lastScrape = Date.now();
    while (probing) {
      const t = performance.now();
      try {
        const res = await fetch(`${o.url}/healthz`, { signal: AbortSignal.timeout(2000) });
        if (!res.ok) healthz.failures++;
      } catch {
        healthz.failures++;
      }
      healthz.probes++;
      healthz.maxMs = Math.max(healthz.maxMs, performance.now() - t);
      if (Date.now() - lastScrape > 1000) {
        lastScrape = Date.now();
        await sampleLoop();
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();

  // HTTP: requests of `batch` items, four at a time, every third one gzipped.
  const batch = o.batch ?? 1000;
  let next = 0;
  let requests = 0;
  const sendHttp = async () => {
    while (next < corpus.http.length) {
      const from = next;
      next += batch;
      const slice = corpus.http.slice(from, from + batch);
      const gzip = requests++ % 3 === 0;
      const raw = bodyOf(slice);
      for (;;) {
        const res = await fetch(`${o.url}/v1/events`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-ndjson',
            authorization: `Bearer ${o.apiKey}`,
            ...(gzip ? { 'content-encoding': 'gzip' } : {}),
          },
          body: gzip ? gzipSync(raw) : raw,
        });
        statuses[String(res.status)] = (statuses[String(res.status)] ?? 0) + 1;
        const answer = (await res.json()) as { errors?: { index: number; code: string; message: string }[] };
        if (res.status === 503 || res.status === 429) {
          await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after') ?? '1') * 1000));
          continue;
        }
        if (res.status !== 200) {
          violations.push(`POST /v1/events answered ${res.status}: ${JSON.stringify(answer).slice(0, 300)}`);
          break;
        }
        const want = slice.flatMap((s, index) => (s.expect === 'stored' ? [] : [`${index}:${s.expect}`]));
        const got = (answer.errors ?? []).map((e) => `${e.index}:${e.code}`);
        if (want.join() !== got.join()) {
          const diff = got.find((g, i) => g !== want[i]) ?? want.find((w, i) => w !== got[i]);
          const index = Number((diff ?? '0').split(':')[0]);
          violations.push(
            `request of items ${from}…: per-event errors differ at ${diff} (item class ${JSON.stringify(slice[index]?.cls)}, wanted ${slice[index]?.expect})`,
          );
        }
        for (const e of answer.errors ?? [])
          if (!e.message.isWellFormed() || e.message.length < 10)
            violations.push(`an unclear or malformed message: ${JSON.stringify(e)}`);
        break;
      }
    }
  };
  // Kafka: raw messages, keyed tenant:subject as producers do.
  const sendKafka = async () => {
    const producer = o.kafka.producer();
    await producer.connect();
    try {
      for (let i = 0; i < corpus.kafka.length; i += 500) {
        await producer.send({
          topic: o.topic,
          acks: -1,
          messages: corpus.kafka
            .slice(i, i + 500)
            .map((item, j) => ({ key: `${o.tenant}:user-${(i + j) % 500}`, value: item.body })),
        });
      }
    } finally {
      await producer.disconnect();
    }
  };
  await Promise.all([sendHttp(), sendHttp(), sendHttp(), sendHttp(), sendKafka()]);
  say(
    `sent ${corpus.http.length} items over HTTP in ${requests} requests and ${corpus.kafka.length} over Kafka`,
  );

  // Everything stored?
  const expectedLetters = [...expectLetters.values()].reduce((a, b) => a + b, 0);
  const count = async (q: string) => {
    const rs = await o.clickhouse.query({ query: q, format: 'JSONEachRow' });
    return Number(Object.values(((await rs.json()) as Record<string, string>[])[0] ?? { n: 0 })[0]);
  };
  const deadline = Date.now() + (o.settleMs ?? 120_000);
  let storedGood = 0;
  let letters = 0;
  while (Date.now() < deadline) {
    storedGood = await count(
      `SELECT uniqExact(event_id) FROM ${o.database}.events WHERE event_id LIKE 'fz-%'`,
    );
    letters = await count(
      `SELECT count() FROM ${o.database}.dead_letters FINAL WHERE door IN ('http', 'kafka')`,
    );
    if (storedGood >= goodIds.length && letters >= expectedLetters) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  probing = false;
  await prober;
  await sampleLoop();
  idle.kill('SIGTERM');
  await idleDone;

  if (storedGood !== goodIds.length)
    violations.push(`${storedGood} good events stored, wanted ${goodIds.length}`);
  const doubled = await count(
    `SELECT count() FROM (SELECT event_id, count() AS n FROM ${o.database}.events FINAL WHERE event_id LIKE 'fz-%' GROUP BY event_id HAVING n > 1)`,
  );
  if (doubled > 0) violations.push(`${doubled} events stored more than once`);
  const rs = await o.clickhouse.query({
    query: `SELECT door, code, count() AS n FROM ${o.database}.dead_letters FINAL WHERE door IN ('http', 'kafka') AND received_ms >= ${started} GROUP BY door, code`,
    format: 'JSONEachRow',
  });
  const gotLetters = new Map(
    ((await rs.json()) as { door: string; code: string; n: string }[]).map((r) => [
      `${r.door}:${r.code}`,
      Number(r.n),
    ]),
  );
  for (const key of new Set([...expectLetters.keys(), ...gotLetters.keys()]))
    if ((expectLetters.get(key) ?? 0) !== (gotLetters.get(key) ?? 0))
      violations.push(
        `dead letters ${key}: ${gotLetters.get(key) ?? 0}, wanted ${expectLetters.get(key) ?? 0}`,
      );
  const refusedByClickHouse = await count(
    `SELECT count() FROM ${o.database}.dead_letters WHERE door = 'clickhouse'`,
  );
  if (refusedByClickHouse > 0)
    violations.push(`${refusedByClickHouse} rows refused by ClickHouse (a string not made well-formed?)`);

  // No raw token anywhere; every stored byte valid UTF-8.
  violations.push(
    ...(await scanTables(o, ['events', 'dead_letters', 'detections', 'revocations', 'revocation_notices'])),
  );

  if ((await metric(o.url, 'tokenwatch_process_start_time_seconds')) !== pid)
    violations.push('the service restarted');
  if ((statuses['500'] ?? 0) + (statuses['502'] ?? 0) > 0)
    violations.push(`5xx answers: ${JSON.stringify(statuses)}`);
  if (healthz.failures > 0) violations.push(`/healthz failed ${healthz.failures} of ${healthz.probes} times`);

  return {
    seed: o.seed,
    items: o.count,
    hostile,
    good: goodIds.length,
    classes: [...classes.values()].sort((a, b) => a.door.localeCompare(b.door) || a.cls.localeCompare(b.cls)),
    http: { requests, statuses },
    maxEventLoopBlockedMs: Math.round(maxBlockedS * 1000),
    maxEventLoopDelayMs: Math.round(maxLagS * 1000),
    idleProcessDelayMs: Math.round(Number(idleOut) || 0),
    healthz: { ...healthz, maxMs: Math.round(healthz.maxMs) },
    seconds: (Date.now() - started) / 1000,
    violations,
  };
}
