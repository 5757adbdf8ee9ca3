/**
 * Hostile input through both doors: every bad event is rejected with its reason and dead-lettered
 * (payload truncated and redacted), the good events beside it are stored, raw tokens are stored
 * nowhere, whole-request abuse gets a clear status, and the service stays healthy and bounded.
 */
import { request } from 'node:http';
import { promisify } from 'node:util';
import { gzip, zstdCompress } from 'node:zlib';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  API_KEY,
  clickhouse,
  kafkaClient,
  makeEvents,
  metric,
  postEvents,
  postRaw,
  produce,
  queryRows,
  type RunningService,
  scalar,
  serviceSetup,
  startService,
  waitUntil,
} from '../support/harness.ts';

const gzipAsync = promisify(gzip);
const zstdAsync = promisify(zstdCompress);

/** Sends only the headers of a POST that declares a `bytes`-long body, and reads the answer. */
function postDeclaringLength(url: string, bytes: number, headers: Record<string, string>) {
  return new Promise<{ status: number; body: { error?: string; message?: string } }>((resolve, reject) => {
    const req = request(
      `${url}/v1/events`,
      { method: 'POST', headers: { ...headers, 'content-length': String(bytes) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c;
        });
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    req.flushHeaders();
  });
}
const DAY = 86_400_000;

interface Hostile {
  text: string;
  code: string;
}

/** One hostile event of each kind, cycling; `jwt` is a real signed token that must never be stored. */
function hostile(i: number, jwt: string, door: 'http' | 'kafka'): Hostile {
  const now = Date.now();
  const good = makeEvents(1, { prefix: `bad-${door}-${i}` })[0]!;
  const kinds: (() => Hostile)[] = [
    () => ({ text: `{"event_id":"bad-${i}","type":`, code: 'malformed_json' }),
    () => ({ text: '[1,2,3]', code: 'not_an_object' }),
    () => ({
      text: JSON.stringify({ type: 'verification', time: now, outcome: 'accepted', reason: 'ok' }),
      code: 'missing_field',
    }),
    () => ({ text: JSON.stringify({ ...good, event_id: i }), code: 'invalid_field' }),
    () => ({ text: JSON.stringify({ ...good, type: 'login' }), code: 'unknown_type' }),
    () => ({ text: JSON.stringify({ ...good, ip: `300.1.${i % 250}.1` }), code: 'invalid_ip' }),
    () => ({ text: JSON.stringify({ ...good, padding: 'x'.repeat(20_000) }), code: 'oversized' }),
    () => ({ text: JSON.stringify({ ...good, time: now - 30 * DAY }), code: 'time_out_of_range' }),
    () => ({ text: JSON.stringify({ ...good, time: now + DAY }), code: 'time_out_of_range' }),
    () => ({ text: JSON.stringify({ ...good, user_agent: `curl/8 Bearer ${jwt}` }), code: 'raw_token' }),
    () => ({
      text: JSON.stringify({ ...good, debug: { headers: { authorization: `Bearer ${jwt}` } } }),
      code: 'raw_token',
    }),
    () => ({
      text: JSON.stringify({ ...good, type: 'verification', outcome: 'accepted', reason: 'expired' }),
      code: 'inconsistent_outcome',
    }),
    () => ({
      text: JSON.stringify({ ...good, type: 'verification', outcome: 'rejected', reason: 'because' }),
      code: 'invalid_field',
    }),
    () => ({ text: JSON.stringify({ ...good, time: '2026-02-30T10:00:00Z' }), code: 'invalid_time' }),
    () => ({ text: JSON.stringify({ ...good, time: 9e15 }), code: 'invalid_time' }),
    () =>
      door === 'http'
        ? { text: JSON.stringify({ ...good, tenant: 'other' }), code: 'tenant_mismatch' }
        : { text: '', code: 'malformed_json' },
  ];
  return kinds[i % kinds.length]!();
}

describe('hostile input', () => {
  const setup = serviceSetup({
    kafka: true,
    extra: {
      TOKENWATCH_HTTP_BODY_LIMIT_BYTES: String(4 * 1024 * 1024),
      TOKENWATCH_DEAD_LETTER_PAYLOAD_BYTES: '1024',
    },
  });
  const ch = clickhouse();
  let service: RunningService;
  let jwt: string;

  beforeAll(async () => {
    jwt = await new SignJWT({ sub: 'victim', scope: 'admin' })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setJti('stolen-jti')
      .setExpirationTime('15m')
      .sign(new TextEncoder().encode('a-secret-of-at-least-32-bytes-long!!'));
    service = await startService(setup.env);
  });
  afterAll(async () => {
    expect(await service?.stop()).toBe(0);
    await ch.close();
  });

  it('rejects ≥10k hostile events with their reasons and stores the good ones beside them', async () => {
    const expected = new Map<string, number>();
    const count = (code: string) => expected.set(code, (expected.get(code) ?? 0) + 1);

    // HTTP: 12,000 hostile + 6,000 good, interleaved, in requests of 1,800 lines.
    const httpItems: { text: string; code?: string }[] = [];
    const goodHttp = makeEvents(6000, { prefix: 'good-h' });
    for (let i = 0, h = 0; i < 18_000; i++) {
      if (i % 3 === 2) httpItems.push({ text: JSON.stringify(goodHttp[(i - 2) / 3]) });
      else httpItems.push(hostile(h++, jwt, 'http'));
    }
    for (let start = 0; start < httpItems.length; start += 1800) {
      const slice = httpItems.slice(start, start + 1800);
      const res = await postEvents(
        service.url,
        slice.map((s) => s.text),
        { gzip: start % 3600 === 0 },
      );
      expect(res.status).toBe(200);
      const want = slice.flatMap((s, index) => (s.code ? [{ index, code: s.code }] : []));
      expect(res.body.errors?.map((e) => ({ index: e.index, code: e.code }))).toEqual(want);
      expect(res.body.accepted).toBe(slice.length - want.length);
      for (const e of res.body.errors ?? []) {
        expect(e.message.length).toBeGreaterThan(10);
        expect(e.message).not.toContain(jwt);
      }
    }
    for (const s of httpItems) if (s.code) count(`http:${s.code}`);

    // Kafka: 4,000 hostile + 2,000 good raw messages.
    const kafkaItems: { text: string; code?: string }[] = [];
    const goodKafka = makeEvents(2000, { prefix: 'good-k' });
    for (let i = 0, h = 0; i < 6000; i++) {
      if (i % 3 === 2) kafkaItems.push({ text: JSON.stringify(goodKafka[(i - 2) / 3]) });
      else kafkaItems.push(hostile(h++, jwt, 'kafka'));
    }
    await produce(
      kafkaClient(),
      setup.topic,
      kafkaItems.map((s) => s.text),
      200,
    );
    for (const s of kafkaItems) if (s.code) count(`kafka:${s.code}`);

    const hostileTotal = [...expected.values()].reduce((a, b) => a + b, 0);
    expect(hostileTotal).toBeGreaterThanOrEqual(10_000);
    await waitUntil(
      'every dead letter stored',
      async () =>
        (await scalar(ch, `SELECT count() FROM ${setup.database}.dead_letters FINAL`)) >= hostileTotal ||
        undefined,
      60_000,
    );
    await waitUntil(
      'every good event stored',
      async () => (await scalar(ch, `SELECT count() FROM ${setup.database}.events`)) >= 8000 || undefined,
      60_000,
    );

    const rows = await queryRows<{ door: string; code: string; n: string }>(
      ch,
      `SELECT door, code, count() AS n FROM ${setup.database}.dead_letters FINAL GROUP BY door, code`,
    );
    expect(new Map(rows.map((r) => [`${r.door}:${r.code}`, Number(r.n)]))).toEqual(expected);
    expect(await scalar(ch, `SELECT count() FROM ${setup.database}.events FINAL`)).toBe(8000);
    expect(await scalar(ch, `SELECT count() FROM ${setup.database}.events WHERE event_id LIKE 'bad-%'`)).toBe(
      0,
    );
    expect(await metric(service.url, 'tokenwatch_events_rejected_total')).toBe(hostileTotal);

    // Tokens are stored nowhere; payloads are truncated to the configured size and redacted.
    const [header, payload] = jwt.split('.');
    for (const table of ['events', 'dead_letters']) {
      const hits = await scalar(
        ch,
        `SELECT count() FROM ${setup.database}.${table} WHERE position(concat(${table === 'events' ? 'user_agent, extra' : 'payload, message, event_id'}), '${header}') > 0 OR position(concat(${table === 'events' ? 'user_agent, extra' : 'payload, message, event_id'}), '${payload}') > 0`,
      );
      expect(hits, `${table} holds a raw token`).toBe(0);
    }
    expect(
      await scalar(
        ch,
        `SELECT count() FROM ${setup.database}.dead_letters WHERE code = 'raw_token' AND position(payload, '[REDACTED_TOKEN]') > 0`,
      ),
    ).toBe((expected.get('http:raw_token') ?? 0) + (expected.get('kafka:raw_token') ?? 0));
    expect(
      await scalar(ch, `SELECT max(length(payload)) FROM ${setup.database}.dead_letters`),
    ).toBeLessThanOrEqual(1024);
    expect(
      await scalar(
        ch,
        `SELECT count() FROM ${setup.database}.dead_letters WHERE code = 'oversized' AND truncated = 1 AND payload_bytes > 20000`,
      ),
    ).toBe((expected.get('http:oversized') ?? 0) + (expected.get('kafka:oversized') ?? 0));
    const [kafkaLetter] = await queryRows<{ origin: string; letter_id: string }>(
      ch,
      `SELECT origin, letter_id FROM ${setup.database}.dead_letters WHERE door = 'kafka' LIMIT 1`,
    );
    expect(kafkaLetter?.origin).toMatch(new RegExp(`^${setup.topic}/\\d+/\\d+$`));
    expect(kafkaLetter?.letter_id).toBe(`kafka:${kafkaLetter?.origin}`);

    // Bounded and healthy afterwards.
    expect(await metric(service.url, 'tokenwatch_process_resident_memory_bytes')).toBeLessThan(
      700 * 1024 * 1024,
    );
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
  });

  it('publishes dead letters on the dead-letter topic', async () => {
    const consumer = kafkaClient().consumer({ groupId: `${setup.topic}-dlq-reader` });
    await consumer.connect();
    await consumer.subscribe({ topic: `${setup.topic}.dlq`, fromBeginning: true });
    const seen: { code: string; payload: string }[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => void seen.push(JSON.parse(message.value!.toString())),
    });
    await waitUntil('dead letters on the topic', async () => seen.length >= 10_000 || undefined, 60_000);
    await consumer.disconnect();
    expect(seen.some((l) => l.code === 'raw_token' && l.payload.includes('[REDACTED_TOKEN]'))).toBe(true);
    expect(seen.every((l) => !l.payload.includes(jwt.split('.')[1]!))).toBe(true);
  });

  it('answers whole-request abuse with a clear status', async () => {
    const ndjson = { 'content-type': 'application/x-ndjson', authorization: `Bearer ${API_KEY}` };
    type Answer = { status: number; body: { error?: string; message?: string } };
    // One at a time: each case is a thunk, so a failing one leaves no request running behind it.
    const cases: [string, () => Promise<Answer>, number][] = [
      ['no API key', () => postRaw(service.url, '{}', { 'content-type': 'application/x-ndjson' }), 401],
      [
        'unknown API key',
        () => postRaw(service.url, '{}', { ...ndjson, authorization: 'Bearer not-a-key-of-anyone' }),
        401,
      ],
      // The server answers 413 from Content-Length, before the body: wait for that answer instead of racing the upload.
      ['body over the limit', () => postDeclaringLength(service.url, 5 * 1024 * 1024, ndjson), 413],
      [
        'gzip bomb',
        async () =>
          postRaw(service.url, await gzipAsync(Buffer.alloc(64 * 1024 * 1024)), {
            ...ndjson,
            'content-encoding': 'gzip',
          }),
        413,
      ],
      ['not gzip', () => postRaw(service.url, 'plain', { ...ndjson, 'content-encoding': 'gzip' }), 400],
      [
        'zstd bomb',
        async () =>
          postRaw(service.url, await zstdAsync(Buffer.alloc(64 * 1024 * 1024)), {
            ...ndjson,
            'content-encoding': 'zstd',
          }),
        413,
      ],
      ['not zstd', () => postRaw(service.url, 'plain', { ...ndjson, 'content-encoding': 'zstd' }), 400],
      ['unsupported encoding', () => postRaw(service.url, 'x', { ...ndjson, 'content-encoding': 'br' }), 415],
      [
        'unsupported content type',
        () => postRaw(service.url, 'a,b', { ...ndjson, 'content-type': 'text/csv' }),
        415,
      ],
      [
        'broken JSON array',
        () => postRaw(service.url, '[{"event_id":"x"},', { ...ndjson, 'content-type': 'application/json' }),
        400,
      ],
    ];
    for (const [what, send, status] of cases) {
      const res = await send();
      expect({ what, status: res.status }).toEqual({ what, status });
      expect(res.body.message, what).toBeTruthy();
    }
    await waitUntil(
      'the broken body dead-lettered',
      async () =>
        (await scalar(
          ch,
          `SELECT count() FROM ${setup.database}.dead_letters WHERE payload = '[{"event_id":"x"},'`,
        )) === 1 || undefined,
    );
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
  });
});
