/** The HTTP door's whole-request bounds, on the real route with an in-memory intake (fastify inject, and a real socket for slow bodies). */
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../../../../ingest/metrics.ts';
import type { DeadLetterRow } from '../../../../../ingest/pipeline/rows.ts';
import { Stage } from '../../../../../ingest/pipeline/stage.ts';
import type { NormalizedEvent } from '../../../../../ingest/pipeline/validate.ts';
import { eventsRoute } from '../../../../../ingest/sources/http/events-route.ts';
import type { Intake } from '../../../../../ingest/sources/http/intake.ts';
import { TenantQuota } from '../../../../../ingest/sources/http/tenant-quota.ts';
import { ApiKeys } from '../../../../../platform/http/api-keys.ts';
import { answerErrors } from '../../../../../platform/http/errors.ts';

const KEY = 'acme-key-0123456789abcdef';
const OTHER = 'beta-key-0123456789abcdef';

class MemoryIntake implements Intake {
  events: NormalizedEvent[] = [];
  letters: DeadLetterRow[] = [];
  async accept(events: NormalizedEvent[], letters: DeadLetterRow[]) {
    this.events.push(...events);
    this.letters.push(...letters);
  }
}

const event = (i: number) =>
  JSON.stringify({
    event_id: `e${i}`,
    type: 'verification',
    time: Date.now(),
    outcome: 'accepted',
    reason: 'ok',
  });

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function build(
  o: { events?: number; bytes?: number; maxEvents?: number; rps?: number; inflating?: number } = {},
) {
  const metrics = createMetrics();
  const intake = new MemoryIntake();
  const stage = new Stage(
    {
      httpBodyBytes: 1 << 20,
      httpAckTimeoutMs: 1000,
      eventBytes: 16_384,
      eventMaxDepth: 32,
      maxEventAgeSeconds: 3600,
      maxFutureSkewSeconds: 300,
      deadLetterPayloadBytes: 1024,
    },
    metrics,
  );
  app = Fastify();
  answerErrors(app);
  await app.register(eventsRoute, {
    stage,
    intake,
    apiKeys: new ApiKeys([
      { tenant: 'acme', key: KEY },
      { tenant: 'beta', key: OTHER },
    ]),
    metrics,
    bodyLimit: 1 << 20,
    maxEvents: o.maxEvents ?? 100,
    eventQuota: new TenantQuota({
      perSecond: o.events ?? 0,
      burstSeconds: 1,
      minCapacity: o.maxEvents ?? 100,
    }),
    byteQuota: new TenantQuota({ perSecond: o.bytes ?? 0, burstSeconds: 1 }),
    maxInflating: o.inflating ?? 4,
    requestsPerSecondPerKey: o.rps ?? 0,
    maxEventLoopDelayMs: 0,
  });
  return { intake, metrics };
}

const post = (body: string | Buffer, key = KEY, headers: Record<string, string> = {}) =>
  app!.inject({
    method: 'POST',
    url: '/v1/events',
    headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${key}`, ...headers },
    payload: body,
  });

describe('POST /v1/events bounds', () => {
  it('refuses more events than a request may hold with 413 naming the cap, storing nothing', async () => {
    const { intake } = await build({ maxEvents: 3 });
    const res = await post([1, 2, 3, 4].map(event).join('\n'));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({
      error: 'too_many_events',
      message:
        'the request holds more than 3 events (TOKENWATCH_HTTP_MAX_EVENTS_PER_REQUEST); send at most 3 per request',
    });
    expect(intake.events).toEqual([]);
    expect((await post([1, 2, 3].map(event).join('\n'))).statusCode).toBe(200);
  });

  it('answers a tenant over its events budget 429 + Retry-After, without charging the refused request or touching another tenant', async () => {
    const { intake } = await build({ events: 10, maxEvents: 10 });
    expect((await post(Array.from({ length: 10 }, (_, i) => event(i)).join('\n'))).statusCode).toBe(200);
    const over = await post(event(99));
    expect(over.statusCode).toBe(429);
    expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(over.json().error).toBe('rate_limited');
    expect(over.json().message).toMatch(/TOKENWATCH_TENANT_EVENTS_PER_SECOND/);
    expect((await post(event(1), OTHER)).statusCode).toBe(200);
    expect(intake.events).toHaveLength(11);
  });

  it('refuses a declared body over the bytes budget before reading it', async () => {
    await build({ bytes: 1000 });
    const big = 'x'.repeat(5000);
    const res = await post(big);
    expect(res.statusCode).toBe(429);
    expect(res.json().message).toMatch(/TOKENWATCH_TENANT_BYTES_PER_SECOND/);
  });

  it('limits requests per key with @fastify/rate-limit (429 + Retry-After), per key', async () => {
    await build({ rps: 3 });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await post(event(i))).statusCode);
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    const limited = await post(event(9));
    expect(limited.headers['retry-after']).toBeDefined();
    expect(limited.json()).toMatchObject({ error: 'rate_limited' });
    expect((await post(event(1), OTHER)).statusCode).toBe(200);
  });

  it('limits unknown keys per client address before checking them: guessing keys is limited too', async () => {
    const { intake } = await build({ rps: 3 });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await post(event(i), `guess-${i}-0123456789abcdef`)).statusCode);
    expect(codes).toEqual([401, 401, 401, 429, 429]);
    expect(intake.events).toEqual([]);
  });

  it('takes json-seq records and JSON arrays whose broken elements are refused alone', async () => {
    const { intake } = await build();
    const seq = await post(`\u001e${event(1)}\n\u001e{"nope"\n`, KEY, {
      'content-type': 'application/json-seq',
    });
    expect(seq.json()).toMatchObject({
      accepted: 1,
      rejected: 1,
      errors: [{ index: 1, code: 'malformed_json' }],
    });
    const arr = await post(`[${event(2)}, {bad}, ${event(3)}]`, KEY, { 'content-type': 'application/json' });
    expect(arr.json()).toMatchObject({
      accepted: 2,
      rejected: 1,
      errors: [{ index: 1, code: 'malformed_json' }],
    });
    expect(intake.events.map((e) => e.event_id)).toEqual(['e1', 'e2', 'e3']);
    expect(intake.letters).toHaveLength(2);
  });

  it('inflates at most maxInflating gzip bodies at once (503 + Retry-After), and frees the slot when one ends', async () => {
    await build({ inflating: 1 });
    const address = await app!.listen({ port: 0, host: '127.0.0.1' });
    const gz = gzipSync(`${event(1)}\n`);
    // A slow client: headers and half the gzip body, then nothing.
    const slow = request(`${address}/v1/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-ndjson',
        'content-encoding': 'gzip',
        authorization: `Bearer ${KEY}`,
        'content-length': String(gz.length),
      },
    });
    slow.on('error', () => undefined);
    slow.write(gz.subarray(0, 5));
    await new Promise((r) => setTimeout(r, 200));
    const send = () =>
      fetch(`${address}/v1/events`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-ndjson',
          'content-encoding': 'gzip',
          authorization: `Bearer ${KEY}`,
        },
        body: gz,
      });
    const busy = await send();
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('1');
    slow.destroy();
    await new Promise((r) => setTimeout(r, 200));
    expect((await send()).status).toBe(200);
  });
});
