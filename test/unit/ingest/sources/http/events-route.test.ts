/** The HTTP door's whole-request bounds and encodings, on the real route with an in-memory intake (fastify inject, and a real socket for slow bodies). */
import { request } from 'node:http';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { eventsDoor } from './support.ts';

const KEY = 'acme-key-0123456789abcdef';
const OTHER = 'beta-key-0123456789abcdef';

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
  const door = await eventsDoor({ keys: { acme: KEY, beta: OTHER }, ...o });
  app = door.app;
  return { intake: door.intake, metrics: door.metrics };
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

describe('POST /v1/events encodings', () => {
  const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

  it('takes zstd bodies (what the SDK sends) and gzip bodies (older SDKs) alike', async () => {
    const { intake } = await build();
    const body = (from: number) => [from, from + 1, from + 2].map(event).join('\n');
    const zstd = await post(zstdCompressSync(body(0)), KEY, { 'content-encoding': 'zstd' });
    expect(zstd.json()).toEqual({ accepted: 3, rejected: 0, errors: [] });
    // RFC 7694: the answer names the codings the door takes, so a client can move to zstd
    expect(zstd.headers['accept-encoding']).toBe('zstd, gzip');
    const gzip = await post(gzipSync(body(3)), KEY, { 'content-encoding': 'gzip' });
    expect(gzip.json()).toEqual({ accepted: 3, rejected: 0, errors: [] });
    expect(intake.events.map((e) => e.event_id)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5']);
  });

  it('refuses a zstd body that inflates past the body limit with 413, storing nothing', async () => {
    const { intake } = await build();
    const bomb = zstdCompressSync(Buffer.alloc(4 << 20, 0x20));
    expect(bomb.length).toBeLessThan(1 << 20);
    const res = await post(bomb, KEY, { 'content-encoding': 'zstd' });
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toBe('body_too_large');
    expect(intake.events).toEqual([]);
  });

  it('answers any body that is not zstd 400 invalid_zstd for that request alone: the next one is served', async () => {
    const { intake } = await build({ inflating: 1 });
    const good = zstdCompressSync(`${event(1)}\n`);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 0, maxLength: 300 }).map((b) => Buffer.from(b)),
          // past the magic number, into the frame decoder
          fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.concat([ZSTD_MAGIC, b])),
          // a real frame cut short or with a byte flipped
          fc.tuple(fc.nat(good.length - 2), fc.integer({ min: 1, max: 255 })).map(([at, flip]) => {
            const broken = Buffer.from(good);
            broken[at + 1]! ^= flip;
            return at % 2 === 0 ? broken : good.subarray(0, at + 1);
          }),
        ),
        async (body) => {
          const res = await post(body, KEY, { 'content-encoding': 'zstd' });
          if (res.statusCode === 200) {
            // a flipped byte the frame does not check (zstd frames carry no checksum by default)
            // still decodes to some text; the door then judged it as events
            expect(res.json()).toHaveProperty('accepted');
          } else {
            expect(res.statusCode).toBe(400);
            expect(res.json().error).toMatch(/^(invalid_zstd|malformed_body)$/);
            if (res.json().error === 'invalid_zstd')
              expect(res.json().message).toMatch(/^invalid zstd body: /);
          }
          // nothing held: with one inflating slot, the next compressed body is served at once
          const next = await post(good, KEY, { 'content-encoding': 'zstd' });
          expect(next.statusCode).toBe(200);
          expect(next.json().accepted).toBe(1);
        },
      ),
      { numRuns: 150 },
    );
    expect(intake.events.length).toBeGreaterThanOrEqual(150);
  });

  it('refuses an unknown Content-Encoding with 415 naming the ones it takes', async () => {
    await build();
    const res = await post(event(1), KEY, { 'content-encoding': 'br' });
    expect(res.statusCode).toBe(415);
    expect(res.headers['accept-encoding']).toBe('zstd, gzip');
    expect(res.json()).toEqual({
      error: 'unsupported_content_encoding',
      message: 'unsupported Content-Encoding "br"; use zstd, gzip or none',
    });
  });
});
