import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, type Metrics } from '../../../../ingest/metrics.ts';
import {
  Batcher,
  BatcherClosedError,
  type BatcherOptions,
  BufferFullError,
  type RowSink,
} from '../../../../ingest/pipeline/batcher.ts';
import type { DeadLetterRow, EventRow } from '../../../../ingest/pipeline/rows.ts';
import { RowsRefusedError } from '../../../../platform/clickhouse/refusals.ts';

const log = pino({ level: 'silent' });

interface SinkCall {
  kind: 'events' | 'deadLetters';
  ids: string[];
  ok: boolean;
  at: number;
}

/** An in-memory RowSink: records every call, can fail the first N calls (or all), and can be held shut. */
class MemorySink implements RowSink {
  readonly calls: SinkCall[] = [];
  readonly events: EventRow[] = [];
  readonly deadLetters: DeadLetterRow[] = [];
  failures: number;
  failAlways = false;
  #gate: Promise<void> | undefined;
  #openGate: (() => void) | undefined;

  constructor(failures = 0) {
    this.failures = failures;
  }

  /** Holds every insert until open() is called. */
  hold(): void {
    this.#gate = new Promise((resolve) => {
      this.#openGate = resolve;
    });
  }

  open(): void {
    this.#openGate?.();
    this.#gate = undefined;
  }

  /** The event ids of each successful events insert. */
  get eventBatches(): string[][] {
    return this.calls.filter((c) => c.kind === 'events' && c.ok).map((c) => c.ids);
  }

  async insertEvents(rows: EventRow[]): Promise<void> {
    await this.#insert(
      'events',
      rows.map((r) => r.event_id),
    );
    this.events.push(...rows);
  }

  async insertDeadLetters(rows: DeadLetterRow[]): Promise<void> {
    await this.#insert(
      'deadLetters',
      rows.map((r) => r.letter_id),
    );
    this.deadLetters.push(...rows);
  }

  async #insert(kind: SinkCall['kind'], ids: string[]): Promise<void> {
    await this.#gate;
    const fail = this.failAlways || this.failures > 0;
    this.calls.push({ kind, ids, ok: !fail, at: performance.now() });
    if (fail) {
      this.failures--;
      throw new Error('boom');
    }
  }
}

function eventRow(event_id: string): EventRow {
  return {
    event_id,
    type: 'verification',
    time: 1_772_366_400,
    time_ms: 1_772_366_400_000,
    received_at: 1_772_366_400,
    received_ms: 1_772_366_400_000,
    tenant: 'default',
    source: '',
    subject: 'user-1',
    client_id: '',
    session_id: '',
    ip: '',
    user_agent: '',
    device_id: '',
    outcome: 'accepted',
    reason: 'ok',
    jti: '',
    iss: '',
    aud: [],
    kid: '',
    alg: '',
    iat: 0,
    exp: 0,
    family_id: '',
    token_id: '',
    new_token_id: '',
    access_jti: '',
    country: '',
    region: '',
    city: '',
    lat: 0,
    lon: 0,
    geo_radius_km: 0,
    asn: 0,
    as_org: '',
    network_kind: '',
    extra: '',
    kafka_partition: 0,
    kafka_partitions: 0,
    reporter_id: '',
    reporter_role: '',
    reporter_door: 'http',
    bound_key_kind: '',
    bound_key_thumbprint: '',
    proof_key_thumbprint: '',
    device_id_source: '',
  };
}

function deadLetterRow(letter_id: string): DeadLetterRow {
  return {
    letter_id,
    received_at: 1_772_366_400,
    received_ms: 1_772_366_400_000,
    door: 'http',
    tenant: 'default',
    origin: '127.0.0.1',
    event_index: 0,
    event_id: '',
    code: 'malformed_json',
    message: 'not valid JSON',
    field: '',
    payload: '{',
    payload_bytes: 1,
    truncated: 0,
  };
}

const events = (...ids: string[]) => ids.map(eventRow);

/** Tracks whether a promise settled, without leaving a rejection unhandled. */
function track(promise: Promise<void>) {
  const state: { settled: boolean; error: unknown; done: Promise<void> } = {
    settled: false,
    error: undefined,
    done: Promise.resolve(),
  };
  state.done = promise.then(
    () => {
      state.settled = true;
    },
    (err: unknown) => {
      state.settled = true;
      state.error = err;
    },
  );
  return state;
}

/** Fails (instead of hanging until the test timeout) when `promise` takes longer than `ms`. */
async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const metricValue = async (metric: { get(): Promise<{ values: { value: number }[] }> }) =>
  (await metric.get()).values[0]?.value;

const DEFAULTS: BatcherOptions = {
  maxRows: 100,
  maxWaitMs: 10_000,
  bufferMaxRows: 1000,
  retryMaxBackoffMs: 20,
};

let open: { batcher: Batcher; sink: MemorySink }[] = [];

function setup(opts: Partial<BatcherOptions> = {}, sink = new MemorySink()) {
  const metrics: Metrics = createMetrics();
  const batcher = new Batcher(sink, { ...DEFAULTS, ...opts }, metrics, log);
  open.push({ batcher, sink });
  return { batcher, sink, metrics };
}

afterEach(async () => {
  // Leave no timers or retry loops behind: let held sinks through and give up on failing ones.
  for (const { batcher, sink } of open) {
    sink.failAlways = false;
    sink.failures = 0;
    sink.open();
    await batcher.close(100).catch(() => undefined);
  }
  open = [];
});

describe('Batcher flushing', () => {
  it('flushes when maxRows rows are queued, without waiting for maxWaitMs', async () => {
    const { batcher, sink } = setup({ maxRows: 3 });
    const a = batcher.submit(events('e1'));
    const b = batcher.submit(events('e2'));
    await sleep(5);
    expect(sink.calls).toStrictEqual([]);
    const c = batcher.submit(events('e3'));
    await within(500, Promise.all([a, b, c]));
    expect(sink.eventBatches).toStrictEqual([['e1', 'e2', 'e3']]);
    expect(batcher.bufferedRows).toBe(0);
  });

  it('flushes a partial batch after maxWaitMs', async () => {
    const { batcher, sink } = setup({ maxWaitMs: 30 });
    const started = performance.now();
    const stored = batcher.submit(events('e1', 'e2'));
    await sleep(10);
    expect(sink.calls).toStrictEqual([]);
    await within(1000, stored);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(sink.eventBatches).toStrictEqual([['e1', 'e2']]);
  });

  it('times the batch from its first row, not the last', async () => {
    const { batcher, sink } = setup({ maxWaitMs: 40 });
    const started = performance.now();
    const first = batcher.submit(events('e1'));
    await sleep(20);
    const second = batcher.submit(events('e2'));
    await within(1000, Promise.all([first, second]));
    expect(performance.now() - started).toBeLessThan(75);
    expect(sink.eventBatches).toStrictEqual([['e1', 'e2']]);
  });

  it('splits queued rows into batches of at most maxRows, keeping submissions whole', async () => {
    const { batcher, sink } = setup({ maxRows: 3, maxWaitMs: 20 });
    const a = batcher.submit(events('a1', 'a2'));
    const b = batcher.submit(events('b1', 'b2'));
    await within(1000, Promise.all([a, b]));
    expect(sink.eventBatches).toStrictEqual([
      ['a1', 'a2'],
      ['b1', 'b2'],
    ]);
  });

  it('flush() writes everything queued now, without waiting for maxWaitMs', async () => {
    const { batcher, sink } = setup({ maxRows: 10, maxWaitMs: 10_000 });
    const stored = track(batcher.submit(events('e1')));
    const more = track(batcher.submit(events('e2', 'e3')));
    await within(500, batcher.flush());
    expect(sink.eventBatches).toStrictEqual([['e1', 'e2', 'e3']]);
    await Promise.all([stored.done, more.done]);
    expect([stored.settled, stored.error, more.settled, more.error]).toStrictEqual([
      true,
      undefined,
      true,
      undefined,
    ]);
  });

  it('resolves a submission only after the sink stored its rows', async () => {
    const { batcher, sink, metrics } = setup({ maxRows: 1 });
    sink.hold();
    const stored = track(batcher.submit(events('e1')));
    await sleep(20);
    expect(stored.settled).toBe(false);
    expect(sink.events).toStrictEqual([]);
    expect(batcher.bufferedRows).toBe(1);
    expect(await metricValue(metrics.bufferRows)).toBe(1);
    let seenBySink: string[] = [];
    const resolved = stored.done.then(() => {
      seenBySink = sink.events.map((r) => r.event_id);
    });
    sink.open();
    await within(500, resolved);
    expect(seenBySink).toStrictEqual(['e1']);
    expect(batcher.bufferedRows).toBe(0);
    expect(await metricValue(metrics.bufferRows)).toBe(0);
    expect((await metrics.batchRows.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(
      1,
    );
  });

  it('resolves an empty submission at once, without calling the sink', async () => {
    const { batcher, sink } = setup();
    await within(100, batcher.submit([], []));
    expect(sink.calls).toStrictEqual([]);
  });

  it('inserts dead letters before events', async () => {
    const { batcher, sink } = setup({ maxRows: 3 });
    await within(500, batcher.submit(events('e1', 'e2'), [deadLetterRow('d1')]));
    expect(sink.calls.map((c) => [c.kind, c.ids])).toStrictEqual([
      ['deadLetters', ['d1']],
      ['events', ['e1', 'e2']],
    ]);
  });

  it('does not insert events while their dead letters fail', async () => {
    const { batcher, sink } = setup({ maxRows: 2 }, new MemorySink(1));
    await within(1000, batcher.submit(events('e1'), [deadLetterRow('d1')]));
    expect(sink.calls.map((c) => [c.kind, c.ok])).toStrictEqual([
      ['deadLetters', false],
      ['deadLetters', true],
      ['events', true],
    ]);
  });
});

describe('Batcher retries', () => {
  it('retries failed inserts until they succeed, counting the failures', async () => {
    const { batcher, sink, metrics } = setup({ maxRows: 1 }, new MemorySink(3));
    await within(2000, batcher.submit(events('e1')));
    expect(sink.calls.map((c) => c.ok)).toStrictEqual([false, false, false, true]);
    expect(sink.events.map((r) => r.event_id)).toStrictEqual(['e1']);
    expect(await metricValue(metrics.insertFailures)).toBe(3);
    expect(batcher.bufferedRows).toBe(0);
  });

  it('keeps the rows buffered while retrying', async () => {
    const { batcher, sink } = setup({ maxRows: 2 }, new MemorySink(2));
    const stored = track(batcher.submit(events('e1', 'e2')));
    await sleep(10);
    expect(stored.settled).toBe(false);
    expect(batcher.bufferedRows).toBe(2);
    await within(2000, stored.done);
    expect(stored.error).toBeUndefined();
    expect(sink.eventBatches).toStrictEqual([['e1', 'e2']]);
  });

  // Regression (fixed): #insertWithRetry starts with `backoff = 100` and only caps it after the first sleep, so the
  // first retry waits 50–100 ms even when retryMaxBackoffMs (TOKENWATCH_INSERT_RETRY_MAX_BACKOFF_MS,
  // minimum 10) is smaller.
  it('never waits longer than retryMaxBackoffMs between attempts', async () => {
    const { batcher, sink } = setup({ maxRows: 1, retryMaxBackoffMs: 10 }, new MemorySink(1));
    await within(2000, batcher.submit(events('e1')));
    const [failed, succeeded] = sink.calls;
    expect(succeeded!.at - failed!.at).toBeLessThan(45);
  });
});

describe('Batcher buffer bound', () => {
  it('trySubmit answers undefined (queuing nothing) when bufferMaxRows would be exceeded', async () => {
    const { batcher, sink } = setup({ maxRows: 4, bufferMaxRows: 5 });
    sink.hold();
    const first = track(batcher.submit(events('e1', 'e2', 'e3', 'e4')));
    expect(batcher.bufferedRows).toBe(4);
    expect(batcher.hasRoomFor(2)).toBe(false);
    expect(batcher.trySubmit(events('x1', 'x2'))).toBeUndefined();
    expect(batcher.bufferedRows).toBe(4);
    expect(batcher.hasRoomFor(1)).toBe(true);
    const fits = batcher.trySubmit(events('e5'));
    expect(fits).toBeInstanceOf(Promise);
    expect(batcher.bufferedRows).toBe(5);
    sink.open();
    await within(1000, batcher.flush());
    await within(100, Promise.all([first.done, fits]));
    expect(sink.events.map((r) => r.event_id)).toStrictEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
  });

  it('submit rejects with BufferFullError when there is no room', async () => {
    const { batcher, sink } = setup({ maxRows: 3, bufferMaxRows: 3 });
    sink.hold();
    const first = track(batcher.submit(events('e1', 'e2', 'e3')));
    const err = await batcher.submit(events('x1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BufferFullError);
    expect(err).toMatchObject({
      code: 'ERR_TOKENWATCH_BUFFER_FULL',
      bufferedRows: 3,
      message: 'the insert buffer is full (3 rows waiting for ClickHouse); retry later',
    });
    sink.open();
    await within(1000, first.done);
    expect(sink.events.map((r) => r.event_id)).toStrictEqual(['e1', 'e2', 'e3']);
  });

  it('counts dead letters against the bound', async () => {
    const { batcher, sink } = setup({ maxRows: 2, bufferMaxRows: 3 });
    sink.hold();
    const first = track(batcher.submit(events('e1'), [deadLetterRow('d1')]));
    expect(batcher.bufferedRows).toBe(2);
    expect(batcher.trySubmit([], [deadLetterRow('d2'), deadLetterRow('d3')])).toBeUndefined();
    sink.open();
    await within(1000, first.done);
  });

  it('accepts an oversized submission into an empty buffer, as one insert', async () => {
    const { batcher, sink } = setup({ maxRows: 2, bufferMaxRows: 3 });
    sink.hold();
    const big = track(batcher.submit(events('e1', 'e2', 'e3', 'e4', 'e5')));
    expect(batcher.bufferedRows).toBe(5);
    expect(batcher.trySubmit(events('x1'))).toBeUndefined();
    sink.open();
    await within(1000, big.done);
    expect(big.error).toBeUndefined();
    expect(sink.eventBatches).toStrictEqual([['e1', 'e2', 'e3', 'e4', 'e5']]);
  });

  it('waitForRoom resolves at once when there is room', async () => {
    const { batcher } = setup({ bufferMaxRows: 2 });
    await within(50, batcher.waitForRoom(2));
  });

  it('waitForRoom resolves when room appears', async () => {
    const { batcher, sink } = setup({ maxRows: 2, bufferMaxRows: 2 });
    sink.hold();
    const first = track(batcher.submit(events('e1', 'e2')));
    const waiting = track(batcher.waitForRoom(2));
    await sleep(20);
    expect(waiting.settled).toBe(false);
    sink.open();
    await within(500, waiting.done);
    expect(waiting.error).toBeUndefined();
    expect(first.settled).toBe(true);
    expect(batcher.hasRoomFor(2)).toBe(true);
  });

  it('waitForRoom rejects with BatcherClosedError when the batcher closes meanwhile', async () => {
    const { batcher, sink } = setup({ maxRows: 2, bufferMaxRows: 2 });
    sink.hold();
    const first = track(batcher.submit(events('e1', 'e2')));
    const waiting = track(batcher.waitForRoom(1));
    await sleep(5);
    const closed = batcher.close();
    await within(500, waiting.done);
    expect(waiting.error).toBeInstanceOf(BatcherClosedError);
    expect((waiting.error as Error).message).toBe('rows were not stored: shutting down');
    sink.open();
    await within(500, closed);
    expect(first.error).toBeUndefined();
  });
});

describe('Batcher close', () => {
  it('close() flushes what is queued, then refuses new rows', async () => {
    const { batcher, sink } = setup({ maxWaitMs: 10_000 });
    const stored = track(batcher.submit(events('e1', 'e2'), [deadLetterRow('d1')]));
    await within(500, batcher.close());
    await stored.done;
    expect(stored.error).toBeUndefined();
    expect(sink.eventBatches).toStrictEqual([['e1', 'e2']]);
    expect(sink.deadLetters.map((r) => r.letter_id)).toStrictEqual(['d1']);

    const late = await batcher.submit(events('e3')).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(BatcherClosedError);
    expect(late).toMatchObject({
      code: 'ERR_TOKENWATCH_BATCHER_CLOSED',
      message: 'rows were not stored: shutting down',
    });
    expect(await batcher.trySubmit(events('e4'))?.catch((e: unknown) => e)).toBeInstanceOf(
      BatcherClosedError,
    );
  });

  it('close(deadline) rejects pending submissions with BatcherClosedError when the sink keeps failing', async () => {
    const sink = new MemorySink();
    sink.failAlways = true;
    const { batcher } = setup({ maxRows: 2 }, sink);
    const first = track(batcher.submit(events('e1', 'e2')));
    const second = track(batcher.submit(events('e3')));
    const started = performance.now();
    await within(1000, batcher.close(60));
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    await Promise.all([first.done, second.done]);
    for (const { error } of [first, second]) {
      expect(error).toBeInstanceOf(BatcherClosedError);
      expect((error as Error).message).toBe(
        'rows were not stored: ClickHouse insert failed at shutdown: boom',
      );
    }
    expect(sink.events).toStrictEqual([]);
    expect(batcher.bufferedRows).toBe(0);
  });
});

describe('Batcher urgent submissions (a caller waits for its rows)', () => {
  it('flushes after urgentLingerMs, not maxWaitMs, once an urgent submission is queued', async () => {
    const { batcher, sink } = setup({ maxWaitMs: 10_000, urgentLingerMs: 30 });
    const background = batcher.submit(events('k1'));
    await sleep(10);
    expect(sink.calls).toStrictEqual([]);
    const started = performance.now();
    const waiting = batcher.submit(events('h1'), [], { urgent: true });
    await within(1000, Promise.all([background, waiting]));
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(sink.eventBatches).toStrictEqual([['k1', 'h1']]);
  });

  it('collects urgent submissions that arrive within the linger into one insert', async () => {
    const { batcher, sink } = setup({ maxWaitMs: 10_000, urgentLingerMs: 40 });
    const a = batcher.submit(events('h1'), [], { urgent: true });
    await sleep(10);
    const b = batcher.submit(events('h2'), [], { urgent: true });
    await within(1000, Promise.all([a, b]));
    expect(sink.eventBatches).toStrictEqual([['h1', 'h2']]);
  });

  it('keeps maxWaitMs for rows nobody waits for', async () => {
    const { batcher, sink } = setup({ maxWaitMs: 80, urgentLingerMs: 5 });
    const stored = batcher.submit(events('k1'));
    await sleep(40);
    expect(sink.calls).toStrictEqual([]);
    await within(1000, stored);
    expect(sink.eventBatches).toStrictEqual([['k1']]);
  });
});

describe('Batcher urgent group commit', () => {
  it('sends an urgent batch at once when a tenth of maxRows is queued, and groups what arrives meanwhile', async () => {
    const sink = new MemorySink();
    sink.hold();
    const { batcher } = setup({ maxRows: 20, maxWaitMs: 10_000, urgentLingerMs: 10_000 }, sink);
    const a = batcher.submit(events('h1', 'h2'), [], { urgent: true }); // 2 rows = maxRows/10: goes at once (held)
    await sleep(5);
    const b = batcher.submit(events('h3'), [], { urgent: true });
    const c = batcher.submit(events('h4'), [], { urgent: true });
    sink.open();
    await within(1000, Promise.all([a, b, c]));
    expect(sink.eventBatches).toStrictEqual([
      ['h1', 'h2'],
      ['h3', 'h4'],
    ]);
  });
});

/** A sink whose server refuses every batch holding a row whose id starts with "poison". */
class PickySink extends MemorySink {
  override async insertEvents(rows: EventRow[]): Promise<void> {
    if (rows.some((r) => r.event_id.startsWith('poison'))) {
      this.calls.push({ kind: 'events', ids: rows.map((r) => r.event_id), ok: false, at: performance.now() });
      throw new RowsRefusedError('Code: 27, Cannot parse input');
    }
    await super.insertEvents(rows);
  }
}

describe('Batcher rows the server refuses', () => {
  it('halves the batch until the refused rows are alone, stores the rest and dead-letters those', async () => {
    const sink = new PickySink();
    const { batcher, metrics } = setup({ maxRows: 100 }, sink);
    const ids = Array.from({ length: 8 }, (_, i) => (i === 2 || i === 7 ? `poison-${i}` : `e${i}`));
    const stored = batcher.submit(events(...ids));
    await within(1000, batcher.flush());
    await stored;
    expect(sink.events.map((r) => r.event_id).sort()).toStrictEqual(['e0', 'e1', 'e3', 'e4', 'e5', 'e6']);
    expect(sink.deadLetters.map((d) => [d.event_id, d.code, d.door])).toStrictEqual([
      ['poison-2', 'insert_rejected', 'clickhouse'],
      ['poison-7', 'insert_rejected', 'clickhouse'],
    ]);
    expect(sink.deadLetters[0]!.message).toContain('Cannot parse input');
    expect(JSON.parse(sink.deadLetters[0]!.payload).event_id).toBe('poison-2');
    expect(await metricValue(metrics.rejects)).toBe(2);
    expect(batcher.bufferedRows).toBe(0);
  });
});

describe('Batcher tenants and readiness', () => {
  it("refuses a tenant past its share of the buffer while another tenant's rows still fit", async () => {
    const sink = new MemorySink();
    sink.hold();
    const { batcher } = setup({ maxRows: 10, bufferMaxRows: 100, maxWaitMs: 10_000, tenantShare: 0.5 }, sink);
    const taken = [
      batcher.submit(events(...Array.from({ length: 30 }, (_, i) => `n${i}`)), [], { tenant: 'noisy' }),
      batcher.submit(events(...Array.from({ length: 20 }, (_, i) => `m${i}`)), [], { tenant: 'noisy' }),
    ];
    await expect(batcher.submit(events('n-over'), [], { tenant: 'noisy' })).rejects.toThrow(
      /tenant "noisy" holds its whole share of the insert buffer/,
    );
    const quiet = batcher.submit(events('q1'), [], { tenant: 'quiet' });
    sink.open();
    await within(1000, batcher.flush());
    await within(1000, Promise.all([...taken, quiet]));
    expect(sink.events.map((r) => r.event_id)).toContain('q1');
    // Stored: the noisy tenant's share is free again.
    const after = batcher.submit(events('n-after'), [], { tenant: 'noisy' });
    await within(1000, batcher.flush());
    await within(1000, after);
  });

  it('says how long the oldest unstored row has waited, in the queue or in an insert being retried', async () => {
    const sink = new MemorySink();
    sink.failAlways = true;
    const { batcher } = setup({ maxRows: 1, maxWaitMs: 1, retryMaxBackoffMs: 20 }, sink);
    expect(batcher.oldestWaitMs()).toBe(0);
    const stored = track(batcher.submit(events('e1')));
    await sleep(150);
    expect(batcher.oldestWaitMs()).toBeGreaterThanOrEqual(100);
    sink.failAlways = false;
    await within(1000, stored.done);
    expect(batcher.oldestWaitMs()).toBe(0);
  });
});
