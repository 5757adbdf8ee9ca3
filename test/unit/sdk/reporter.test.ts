/**
 * The non-blocking reporter against a real HTTP server on 127.0.0.1 playing tokenwatch's
 * POST /v1/events: batching, gzip and the API key; retries in order; a dead sink costs a bounded
 * queue with the oldest dropped and counted; refusals; flush and close.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpReporter, type SdkLogger, type TokenEvent } from '../../../sdk/src/index.ts';
import { RingQueue } from '../../../sdk/src/ring-queue.ts';
import { sdkEvent as event } from './support.ts';

interface Sink {
  url: string;
  port: number;
  batches: TokenEvent[][];
  headers: IncomingMessage['headers'][];
  /** what the next requests answer (status, body); default 200 */
  answers: { status: number; body?: object }[];
  close(): Promise<void>;
}

const sinks: Sink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

async function startSink(port = 0): Promise<Sink> {
  const sink = { batches: [], headers: [], answers: [] } as unknown as Sink;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const answer = sink.answers.shift() ?? { status: 200 };
      if (answer.status === 200) {
        sink.batches.push(JSON.parse(body.toString()));
        sink.headers.push(req.headers);
      }
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body ?? { accepted: 0, rejected: 0, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  sink.port = (server.address() as AddressInfo).port;
  sink.url = `http://127.0.0.1:${sink.port}`;
  sink.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  sinks.push(sink);
  return sink;
}

class CapturingLogger implements SdkLogger {
  readonly lines: { level: string; message: string; fields: object }[] = [];
  info = (fields: object, message: string) => this.lines.push({ level: 'info', message, fields });
  warn = (fields: object, message: string) => this.lines.push({ level: 'warn', message, fields });
  error = (fields: object, message: string) => this.lines.push({ level: 'error', message, fields });
}

const ids = (batches: TokenEvent[][]) => batches.flat().map((e) => e.event_id);

describe('HTTP reporter', () => {
  it('sends gzipped batches with the API key, in order, batchSize at a time', async () => {
    const sink = await startSink();
    const reporter = createHttpReporter({ url: sink.url, apiKey: 'k-1', batchSize: 500, lingerMs: 5 });
    for (let i = 0; i < 1200; i++) reporter.report(event(i));
    await reporter.flush();
    expect(sink.batches.map((b) => b.length)).toStrictEqual([500, 500, 200]);
    expect(ids(sink.batches)).toStrictEqual(Array.from({ length: 1200 }, (_, i) => `e-${i}`));
    expect(sink.headers[0]).toMatchObject({
      authorization: 'Bearer k-1',
      'content-encoding': 'gzip',
      'content-type': 'application/json',
    });
    expect(reporter.stats()).toMatchObject({ sent: 1200, queued: 0, sendFailures: 0 });
    await reporter.close();
  });

  it('retries 503s and 429s with backoff, keeping order and sending each event once', async () => {
    const sink = await startSink();
    sink.answers.push({ status: 503 }, { status: 429 }, { status: 503 });
    const reporter = createHttpReporter({ url: sink.url, apiKey: 'k', retryMinMs: 10, lingerMs: 1 });
    for (let i = 0; i < 50; i++) reporter.report(event(i));
    await reporter.flush();
    expect(ids(sink.batches)).toStrictEqual(Array.from({ length: 50 }, (_, i) => `e-${i}`));
    expect(reporter.stats()).toMatchObject({ sent: 50, sendFailures: 3 });
    expect(reporter.stats().lastError).toMatch(/HTTP 503/);
    await reporter.close();
  });

  it('with the sink down: never blocks, holds at most maxQueue, drops the oldest and counts them; the newest arrive when it is back', async () => {
    const probe = await startSink();
    const port = probe.port;
    await probe.close();
    sinks.splice(sinks.indexOf(probe), 1);
    const logger = new CapturingLogger();
    const reporter = createHttpReporter({
      url: `http://127.0.0.1:${port}`,
      apiKey: 'k',
      maxQueue: 100,
      retryMinMs: 20,
      retryMaxMs: 50,
      logger,
    });
    const started = performance.now();
    for (let i = 0; i < 1000; i++) reporter.report(event(i));
    const tookMs = performance.now() - started;
    expect(tookMs).toBeLessThan(1000); // 1000 calls; a blocking reporter would wait for connects
    expect(reporter.stats().queued).toBeLessThanOrEqual(100);
    await new Promise((r) => setTimeout(r, 200));
    const down = reporter.stats();
    expect(down.sendFailures).toBeGreaterThan(0);
    expect(down.dropped.queue_full + down.queued).toBe(1000);
    expect(down.dropped.queue_full).toBe(900);
    // one warning for the drops, one for the failures: rate-limited, not one per event
    expect(logger.lines.filter((l) => /reporter queue is full/.test(l.message))).toHaveLength(1);
    expect(logger.lines.filter((l) => /sink unavailable/.test(l.message))).toHaveLength(1);

    const sink = await startSink(port);
    await reporter.flush();
    expect(ids(sink.batches)).toStrictEqual(Array.from({ length: 100 }, (_, i) => `e-${900 + i}`));
    expect(reporter.stats()).toMatchObject({ sent: 100, queued: 0, dropped: { queue_full: 900 } });
    await reporter.close();
  });

  it('drops a batch the sink refuses with a 4xx (and says to check the key), and counts events refused one by one', async () => {
    const sink = await startSink();
    const logger = new CapturingLogger();
    sink.answers.push({ status: 401, body: { error: 'unauthorized' } });
    const reporter = createHttpReporter({ url: sink.url, apiKey: 'wrong', lingerMs: 1, logger });
    for (let i = 0; i < 10; i++) reporter.report(event(i));
    await reporter.flush();
    expect(reporter.stats()).toMatchObject({ sent: 0, dropped: { refused: 10 } });
    expect(logger.lines.at(-1)?.message).toMatch(/refused a batch.*check the API key/);

    sink.answers.push({
      status: 200,
      body: { accepted: 3, rejected: 2, errors: [{ index: 1, code: 'invalid_field' }] },
    });
    for (let i = 0; i < 5; i++) reporter.report(event(i));
    await reporter.flush();
    expect(reporter.stats()).toMatchObject({ sent: 3, dropped: { refused: 12 } });
    await reporter.close();
  });

  it('close() flushes what is queued; a sink that stays down loses the rest, counted as closed', async () => {
    const sink = await startSink();
    const reporter = createHttpReporter({ url: sink.url, apiKey: 'k', lingerMs: 10_000, batchSize: 1000 });
    for (let i = 0; i < 10; i++) reporter.report(event(i));
    await reporter.close();
    expect(ids(sink.batches)).toHaveLength(10);
    reporter.report(event(11));
    expect(reporter.stats().dropped.closed).toBe(1);

    const logger = new CapturingLogger();
    const stuck = createHttpReporter({ url: 'http://127.0.0.1:9', apiKey: 'k', closeTimeoutMs: 200, logger });
    for (let i = 0; i < 10; i++) stuck.report(event(i));
    await stuck.close();
    expect(stuck.stats()).toMatchObject({ queued: 0, dropped: { closed: 10 } });
    expect(logger.lines.some((l) => /closed with events the sink did not take/.test(l.message))).toBe(true);
  });

  it('refuses a bad URL or a missing key at construction, saying what is expected', () => {
    expect(() => createHttpReporter({ url: 'tokenwatch:8080', apiKey: 'k' })).toThrow(/http\(s\) URL/);
    expect(() => createHttpReporter({ url: 'http://tw', apiKey: '' })).toThrow(/apiKey is required/);
    expect(() => createHttpReporter({ url: 'http://tw', apiKey: 'k', maxQueue: 0 })).toThrow(/at least 1/);
  });
});

describe('RingQueue', () => {
  it('drops the oldest when full, reads batches by position and acknowledges them', () => {
    const q = new RingQueue<number>(3);
    expect([q.push(1), q.push(2), q.push(3)]).toStrictEqual([-1, -1, -1]);
    expect(q.push(4)).toBe(0); // position 0 (the 1) pushed out
    const { from, items } = q.peek(2);
    expect({ from, items }).toStrictEqual({ from: 1, items: [2, 3] });
    q.push(5); // pushes out the 2, which is in the batch read
    expect(q.start).toBe(2);
    q.ack(from + items.length);
    expect(q.peek(10).items).toStrictEqual([4, 5]);
    expect(q.drain()).toStrictEqual([4, 5]);
    expect(q.size).toBe(0);
  });
});
