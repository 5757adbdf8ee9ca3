/**
 * The HTTP reporter's compression and its JSON text path: against tokenwatch's real door (the events
 * route on 127.0.0.1 with an in-memory intake) it moves from gzip to zstd once the door says it takes
 * zstd; against a sink from before zstd it stays on gzip, or falls back to it on a 415; events are
 * serialised as they are reported, and hostile strings arrive exactly as reported.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  HTTP_BATCH_SIZE,
  httpBatchSize,
  jsonArray,
  SYNC_COMPRESS_MAX_BYTES,
} from '../../../sdk/src/http-reporter.ts';
import { createHttpReporter, type SdkLogger, type TokenEvent } from '../../../sdk/src/index.ts';
import { eventsDoor } from '../ingest/sources/http/support.ts';
import { sdkEvent as event } from './support.ts';

const KEY = 'acme-key-0123456789abcdef';
const quiet: SdkLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** tokenwatch's POST /v1/events on 127.0.0.1, storing into memory; the content codings it was sent. */
async function startDoor() {
  const { app, intake } = await eventsDoor({ keys: { acme: KEY }, maxEvents: 10_000, bodyLimit: 1 << 24 });
  const codings: string[] = [];
  app.addHook('onRequest', async (request) => {
    codings.push(String(request.headers['content-encoding'] ?? 'identity'));
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(() => app.close());
  return { url, stored: intake.events, codings };
}

/** A sink from before zstd: gzip or plain bodies only, 415 to anything else; says nothing of what it takes. */
async function startOldSink() {
  const batches: TokenEvent[][] = [];
  const headers: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      headers.push(req.headers);
      const encoding = req.headers['content-encoding'] ?? 'identity';
      if (encoding !== 'gzip' && encoding !== 'identity') {
        res.writeHead(415, { 'content-type': 'application/json' });
        res.end('{"error":"unsupported_content_encoding","message":"use gzip or none"}');
        return;
      }
      const raw = Buffer.concat(chunks);
      batches.push(JSON.parse((encoding === 'gzip' ? gunzipSync(raw) : raw).toString()));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"accepted":0,"rejected":0,"errors":[]}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, batches, headers };
}

const ids = (events: { event_id: string }[]) => events.map((e) => e.event_id);
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => `e-${from + i}`);

describe('HTTP reporter compression', () => {
  it('auto (the default): gzip until the door says it takes zstd, then zstd; every event stored, in order', async () => {
    const door = await startDoor();
    const reporter = createHttpReporter({ url: door.url, apiKey: KEY, batchSize: 100, lingerMs: 1 });
    closers.push(() => reporter.close());
    for (let i = 0; i < 300; i++) reporter.report(event(i));
    await reporter.flush();
    expect(door.codings).toEqual(['gzip', 'zstd', 'zstd']);
    expect(ids(door.stored)).toEqual(range(0, 300));
    expect(reporter.stats()).toMatchObject({ sent: 300, sendFailures: 0, dropped: { refused: 0 } });
  });

  it('auto stays on gzip with a sink that does not say it takes zstd (a tokenwatch from before it)', async () => {
    const sink = await startOldSink();
    const reporter = createHttpReporter({ url: sink.url, apiKey: KEY, batchSize: 10, lingerMs: 1 });
    closers.push(() => reporter.close());
    for (let i = 0; i < 30; i++) reporter.report(event(i));
    await reporter.flush();
    expect(sink.headers.map((h) => h['content-encoding'])).toEqual(['gzip', 'gzip', 'gzip']);
    expect(ids(sink.batches.flat())).toEqual(range(0, 30));
  });

  it('zstd asked for, refused with 415: the same batch again in gzip, and gzip from then on, warning once', async () => {
    const sink = await startOldSink();
    const warnings: string[] = [];
    const logger: SdkLogger = { ...quiet, warn: (_f, message) => void warnings.push(message) };
    const reporter = createHttpReporter({
      url: sink.url,
      apiKey: KEY,
      compression: 'zstd',
      batchSize: 10,
      lingerMs: 1,
      retryMinMs: 1,
      logger,
    });
    closers.push(() => reporter.close());
    for (let i = 0; i < 30; i++) reporter.report(event(i));
    await reporter.flush();
    expect(sink.headers.map((h) => h['content-encoding'])).toEqual(['zstd', 'gzip', 'gzip', 'gzip']);
    expect(ids(sink.batches.flat())).toEqual(range(0, 30));
    expect(reporter.stats()).toMatchObject({ sent: 30, dropped: { refused: 0, queue_full: 0 } });
    expect(warnings.filter((w) => /does not take zstd/.test(w))).toHaveLength(1);
  });

  it('none (or the old gzip: false) sends plain JSON; an unknown compression is refused at construction', async () => {
    const sink = await startOldSink();
    for (const options of [{ compression: 'none' as const }, { gzip: false }]) {
      const reporter = createHttpReporter({ url: sink.url, apiKey: KEY, lingerMs: 1, ...options });
      reporter.report(event(1));
      await reporter.close();
    }
    expect(sink.headers.map((h) => h['content-encoding'])).toEqual([undefined, undefined]);
    expect(() =>
      createHttpReporter({ url: sink.url, apiKey: KEY, compression: 'brotli' as unknown as 'zstd' }),
    ).toThrow('compression must be one of auto, zstd, gzip, none; got "brotli"');
  });
});

describe('HTTP reporter batches', () => {
  it('by default a batch follows the rate: what was reported within lingerMs goes in one request, up to HTTP_BATCH_SIZE', async () => {
    const door = await startDoor();
    const reporter = createHttpReporter({ url: door.url, apiKey: KEY, lingerMs: 20 });
    closers.push(() => reporter.close());
    const n = HTTP_BATCH_SIZE + 500;
    for (let i = 0; i < n; i++) reporter.report(event(i));
    await reporter.flush();
    expect(door.codings).toHaveLength(2); // HTTP_BATCH_SIZE at once, then the 500 left
    expect(ids(door.stored)).toEqual(range(0, n));
  });

  it('the default batch is at most a quarter of maxQueue, so a batch in flight never holds most of the queue', async () => {
    const door = await startDoor();
    const reporter = createHttpReporter({ url: door.url, apiKey: KEY, maxQueue: 400, lingerMs: 1_000 });
    closers.push(() => reporter.close());
    for (let i = 0; i < 250; i++) reporter.report(event(i));
    await reporter.flush();
    expect(door.codings).toHaveLength(3); // 100, 100, then the 50 left
    expect(ids(door.stored)).toEqual(range(0, 250));
    expect(httpBatchSize({})).toBe(HTTP_BATCH_SIZE);
    expect(httpBatchSize({ maxQueue: 2_000 })).toBe(500);
    expect(httpBatchSize({ maxQueue: 3, batchSize: 7 })).toBe(7);
    expect(httpBatchSize({ maxQueue: 3 })).toBe(1);
  });

  it('batches above SYNC_COMPRESS_MAX_BYTES (compressed on the thread pool) arrive whole, in zstd and in gzip', async () => {
    for (const compression of ['zstd', 'gzip'] as const) {
      const door = await startDoor();
      const reporter = createHttpReporter({ url: door.url, apiKey: KEY, compression, lingerMs: 1 });
      closers.push(() => reporter.close());
      // ~1 KiB each: one batch of 1,000 is about twice the bound; then a small one, compressed at once
      const big = Array.from({ length: 1_000 }, (_, i) =>
        event(i, { user_agent: `agent-${i}-`.padEnd(1000, 'x') }),
      );
      expect(jsonArray(big.map((e) => JSON.stringify(e))).length).toBeGreaterThan(SYNC_COMPRESS_MAX_BYTES);
      for (const e of big) reporter.report(e);
      await reporter.flush();
      reporter.report(event(1_000));
      await reporter.flush();
      expect(door.codings).toEqual([compression, compression]);
      expect(ids(door.stored)).toEqual(range(0, 1_001));
    }
  });

  it('jsonArray writes the texts as one UTF-8 JSON array, whatever they hold', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 30 }), (values) => {
        const texts = values.map((v) => JSON.stringify(v));
        const body = jsonArray(texts);
        expect(body.toString('utf8')).toBe(`[${texts.join(',')}]`);
      }),
    );
  });
});

describe('HTTP reporter JSON text', () => {
  it('serialises an event as it is reported: a change made to it afterwards is not sent', async () => {
    const door = await startDoor();
    const reporter = createHttpReporter({ url: door.url, apiKey: KEY, lingerMs: 50 });
    closers.push(() => reporter.close());
    const e = event(1);
    reporter.report(e);
    e.subject = 'changed-after-report';
    await reporter.flush();
    expect(door.stored.map((s) => s.subject)).toEqual(['u1']);
  });

  it('drops an event JSON cannot hold, counted as refused, without throwing; the others go', async () => {
    const door = await startDoor();
    const warnings: string[] = [];
    const logger: SdkLogger = { ...quiet, warn: (_f, message) => void warnings.push(message) };
    const reporter = createHttpReporter({ url: door.url, apiKey: KEY, lingerMs: 1, logger });
    closers.push(() => reporter.close());
    reporter.report(event(1));
    expect(() => reporter.report({ ...event(2), time: 1n as unknown as number })).not.toThrow();
    reporter.report(event(3));
    await reporter.flush();
    expect(ids(door.stored)).toEqual(['e-1', 'e-3']);
    expect(reporter.stats()).toMatchObject({ reported: 3, sent: 2, dropped: { refused: 1 } });
    expect(warnings.some((w) => /cannot be serialised as JSON/.test(w))).toBe(true);
  });

  it('hostile strings (lone surrogates, controls, quotes, any code point) arrive as reported, through zstd', async () => {
    const sink = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const coding = req.headers['content-encoding'];
        const body = coding === 'zstd' ? zstdDecompressSync(raw) : coding === 'gzip' ? gunzipSync(raw) : raw;
        received.push(...(JSON.parse(body.toString('utf8')) as TokenEvent[]));
        codings.push(String(coding));
        res.writeHead(200, { 'content-type': 'application/json', 'accept-encoding': 'zstd, gzip' });
        res.end('{"accepted":0,"rejected":0,"errors":[]}');
      });
    });
    const received: TokenEvent[] = [];
    const codings: string[] = [];
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => sink.close(resolve)));
    const url = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
    const reporter = createHttpReporter({ url, apiKey: KEY, lingerMs: 1, logger: quiet });
    closers.push(() => reporter.close());
    const hostile = fc.string({
      unit: fc.oneof(
        fc.constantFrom('"', '\\', '\u0000', '\u2028', '\ud800', '\udfff'),
        // any UTF-16 unit (lone surrogates included) and any astral code point
        fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
        fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
      ),
      maxLength: 40,
    });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(hostile, hostile), { minLength: 1, maxLength: 20 }),
        async (pairs) => {
          const sent = pairs.map(([subject, ua]) => event(n++, { subject, user_agent: ua }));
          received.length = 0;
          for (const e of sent) reporter.report(e);
          await reporter.flush();
          // what JSON can carry of each (a lone surrogate as its \u escape): exactly what was reported
          expect(received).toEqual(JSON.parse(JSON.stringify(sent)));
        },
      ),
      { numRuns: 60 },
    );
    expect(codings.slice(1).every((c) => c === 'zstd')).toBe(true);
  });
});
