/**
 * batch → insert: collects rows from both doors and writes them to the sink in batches, flushing on
 * size (maxRows) or time (maxWaitMs). A submit resolves only once its rows are stored, so callers
 * acknowledge (Kafka offsets, HTTP 200) after ClickHouse did. Failed inserts are retried with
 * capped exponential backoff and jitter, forever until `close` gives up; the buffer is bounded
 * (bufferMaxRows) and callers wait for room (Kafka) or answer 503 (HTTP) when it is full.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { insertIsolating, RowsRefusedError } from '../../platform/clickhouse/refusals.ts';
import type { Metrics } from '../metrics.ts';
import { type DeadLetterRow, type EventRow, refusedRowLetter } from './rows.ts';

export interface RowSink {
  /** Throws RowsRefusedError when the server refuses the rows themselves; any other error is retried. */
  insertEvents(rows: EventRow[]): Promise<void>;
  /**
   * Stores dead letters; one the server refuses is stored again without what it refused, or dropped
   * and counted (it never blocks the others). Any error thrown is retried.
   */
  insertDeadLetters(rows: DeadLetterRow[]): Promise<void>;
}

export interface BatcherOptions {
  maxRows: number;
  maxWaitMs: number;
  bufferMaxRows: number;
  retryMaxBackoffMs: number;
  /**
   * How long a batch waits for company once a caller waits for its rows (an HTTP request); default
   * maxWaitMs. With at least maxRows/10 rows queued, such a batch goes at once when no insert is running.
   */
  urgentLingerMs?: number;
  /**
   * The share of bufferMaxRows one tenant's submissions may hold (0–1; default 1): past it, that
   * tenant's submissions are refused (BufferFullError) while the others still fit.
   */
  tenantShare?: number;
}

export interface SubmitOptions {
  /** a caller is waiting for these rows: flush after urgentLingerMs instead of maxWaitMs */
  urgent?: boolean;
  /** whose rows these are, for the per-tenant share of the buffer (HTTP: the key's tenant) */
  tenant?: string;
}

interface Submission {
  queuedAt: number;
  urgent: boolean;
  tenant: string | undefined;
  events: EventRow[];
  deadLetters: DeadLetterRow[];
  resolve: () => void;
  reject: (err: Error) => void;
}

export class BufferFullError extends Error {
  readonly code = 'ERR_TOKENWATCH_BUFFER_FULL';
  readonly bufferedRows: number;

  constructor(bufferedRows: number, tenant?: string) {
    super(
      tenant === undefined
        ? `the insert buffer is full (${bufferedRows} rows waiting for ClickHouse); retry later`
        : `tenant ${JSON.stringify(tenant)} holds its whole share of the insert buffer (${bufferedRows} rows waiting for ClickHouse); retry later`,
    );
    this.bufferedRows = bufferedRows;
  }
}

export class BatcherClosedError extends Error {
  readonly code = 'ERR_TOKENWATCH_BATCHER_CLOSED';
  constructor(reason: string) {
    super(`rows were not stored: ${reason}`);
  }
}

const rowsOf = (s: Pick<Submission, 'events' | 'deadLetters'>) => s.events.length + s.deadLetters.length;

export class Batcher {
  #queue: Submission[] = [];
  /** rows queued and not yet taken into an insert */
  #queuedRows = 0;
  /** rows queued or being inserted */
  #bufferedRows = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = 0;
  #flushing: Promise<void> | undefined;
  #closing = false;
  #giveUp = false;
  #roomWaiters: (() => void)[] = [];
  /** rows queued or being inserted, per tenant that submitted with one */
  readonly #tenantRows = new Map<string, number>();
  /** when the oldest submission of the insert running now was queued (0: none running) */
  #insertingSince = 0;

  private readonly sink: RowSink;
  private readonly opts: BatcherOptions;
  private readonly metrics: Metrics;
  private readonly log: Logger;

  constructor(sink: RowSink, opts: BatcherOptions, metrics: Metrics, log: Logger) {
    this.sink = sink;
    this.opts = opts;
    this.metrics = metrics;
    this.log = log;
  }

  get bufferedRows(): number {
    return this.#bufferedRows;
  }

  hasRoomFor(rows: number): boolean {
    // An oversized submission is let in when the buffer is empty, so it cannot wait forever.
    return this.#bufferedRows === 0 || this.#bufferedRows + rows <= this.opts.bufferMaxRows;
  }

  /** Whether `tenant` may add `rows` within its share of the buffer (a tenant holding nothing always may). */
  #tenantHasRoomFor(tenant: string, rows: number): boolean {
    const held = this.#tenantRows.get(tenant) ?? 0;
    const share = Math.max(
      this.opts.maxRows,
      Math.floor(this.opts.bufferMaxRows * (this.opts.tenantShare ?? 1)),
    );
    return held === 0 || held + rows <= share;
  }

  /** How long the oldest row not yet stored has waited (ms; 0 when none waits): readiness fails past a bound. */
  oldestWaitMs(now = Date.now()): number {
    const oldest = Math.min(
      this.#insertingSince || Number.POSITIVE_INFINITY,
      this.#queue[0]?.queuedAt ?? Number.POSITIVE_INFINITY,
    );
    return Number.isFinite(oldest) ? Math.max(0, now - oldest) : 0;
  }

  /** Resolves when `rows` fit in the buffer; calls `tick` about every second meanwhile (Kafka heartbeats). */
  async waitForRoom(rows: number, tick?: () => Promise<void>): Promise<void> {
    while (!this.hasRoomFor(rows)) {
      if (this.#closing) throw new BatcherClosedError('shutting down');
      await Promise.race([new Promise<void>((r) => this.#roomWaiters.push(r)), sleep(1000)]);
      await tick?.();
    }
  }

  /** Queues rows and resolves once they are stored. Rejects with BufferFullError when there is no room. */
  submit(events: EventRow[], deadLetters: DeadLetterRow[] = [], opts: SubmitOptions = {}): Promise<void> {
    const rows = events.length + deadLetters.length;
    if (opts.tenant !== undefined && rows > 0 && !this.#tenantHasRoomFor(opts.tenant, rows))
      return Promise.reject(new BufferFullError(this.#tenantRows.get(opts.tenant) ?? 0, opts.tenant));
    return (
      this.trySubmit(events, deadLetters, opts) ?? Promise.reject(new BufferFullError(this.#bufferedRows))
    );
  }

  /** Like submit, but answers undefined (queuing nothing) when there is no room. */
  trySubmit(
    events: EventRow[],
    deadLetters: DeadLetterRow[] = [],
    opts: SubmitOptions = {},
  ): Promise<void> | undefined {
    const rows = events.length + deadLetters.length;
    if (rows === 0) return Promise.resolve();
    if (this.#closing) return Promise.reject(new BatcherClosedError('shutting down'));
    if (!this.hasRoomFor(rows)) return undefined;
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({
        queuedAt: Date.now(),
        urgent: opts.urgent === true,
        tenant: opts.tenant,
        events,
        deadLetters,
        resolve,
        reject,
      });
      this.#queuedRows += rows;
      this.#bufferedRows += rows;
      if (opts.tenant !== undefined)
        this.#tenantRows.set(opts.tenant, (this.#tenantRows.get(opts.tenant) ?? 0) + rows);
      this.metrics.bufferRows.set(this.#bufferedRows);
      if (this.#fullBatch() || this.#urgentDue()) this.#kick();
      else this.#arm();
    });
  }

  /** Writes everything queued now. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#flushing) {
      this.#kick(true);
      await this.#flushing;
    }
  }

  /**
   * Stops taking rows and flushes. Inserts keep being retried until `deadlineMs`; what is still
   * unstored then is rejected (Kafka offsets stay uncommitted, so those events are read again).
   */
  async close(deadlineMs = 30_000): Promise<void> {
    this.#closing = true;
    for (const wake of this.#roomWaiters.splice(0)) wake();
    const timer = setTimeout(() => {
      this.#giveUp = true;
    }, deadlineMs);
    try {
      await this.flush();
    } finally {
      clearTimeout(timer);
    }
  }

  #kick(force = false) {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#flushing) return;
    if (this.#queue.length === 0) return;
    this.#flushing = this.#drain(force).finally(() => {
      this.#flushing = undefined;
      // Rows that arrived during the insert: flush now if a full batch is waiting, else on time.
      if (this.#queue.length > 0) {
        if (this.#closing || this.#fullBatch()) this.#kick(true);
        else if (this.#urgentDue()) this.#kick();
        else this.#arm();
      }
    });
  }

  #fullBatch(): boolean {
    return this.#queuedRows >= this.opts.maxRows;
  }

  /** A caller waits for queued rows and a tenth of a batch is there: worth an insert now. */
  #urgentDue(): boolean {
    return this.#queuedRows >= this.opts.maxRows / 10 && this.#queue.some((s) => s.urgent);
  }

  /** Sets the flush timer for the oldest queued row (maxWaitMs) or the oldest urgent one (urgentLingerMs). */
  #arm() {
    if (this.#flushing || this.#queue.length === 0) return;
    let deadline = this.#queue[0]!.queuedAt + this.opts.maxWaitMs;
    const urgent = this.#queue.find((s) => s.urgent);
    if (urgent)
      deadline = Math.min(deadline, urgent.queuedAt + (this.opts.urgentLingerMs ?? this.opts.maxWaitMs));
    if (this.#timer !== undefined && this.#timerAt <= deadline) return;
    clearTimeout(this.#timer);
    this.#timerAt = deadline;
    this.#timer = setTimeout(() => this.#kick(), Math.max(0, deadline - Date.now()));
  }

  /** Inserts one batch, then more while a full batch is waiting (or everything, when forced). */
  async #drain(force: boolean) {
    do {
      await this.#insertWithRetry(this.#takeBatch());
    } while (this.#queue.length > 0 && (force || this.#closing || this.#fullBatch()));
  }

  #takeBatch(): Submission[] {
    const batch: Submission[] = [];
    let rows = 0;
    while (
      this.#queue.length > 0 &&
      (batch.length === 0 || rows + rowsOf(this.#queue[0]!) <= this.opts.maxRows)
    ) {
      const s = this.#queue.shift()!;
      rows += rowsOf(s);
      this.#queuedRows -= rowsOf(s);
      batch.push(s);
    }
    return batch;
  }

  async #insertWithRetry(batch: Submission[]) {
    const events = batch.flatMap((s) => s.events);
    const deadLetters = batch.flatMap((s) => s.deadLetters);
    this.#insertingSince = batch[0]?.queuedAt ?? 0;
    try {
      // Dead letters first: an event batch is never acknowledged while its rejects are unstored.
      if (deadLetters.length > 0)
        await this.#retrying(deadLetters.length, () => this.sink.insertDeadLetters(deadLetters));
      if (events.length > 0) await this.#storeEvents(events);
    } catch (err) {
      this.#release(batch, err as Error);
      return;
    } finally {
      this.#insertingSince = 0;
    }
    this.metrics.batchRows.observe(events.length + deadLetters.length);
    this.#release(batch);
  }

  /**
   * Inserts events; the rows ClickHouse refuses themselves (RowsRefusedError) are isolated by
   * halving, the others stored, and each refused one stored as a dead letter (insert_rejected).
   */
  async #storeEvents(rows: EventRow[]): Promise<void> {
    const refused = await insertIsolating(rows, (part) =>
      this.#retrying(part.length, () => this.sink.insertEvents(part)),
    );
    if (refused.length === 0) return;
    const letters = refused.map((r) => refusedRowLetter('events', r));
    for (const letter of letters) {
      this.metrics.rejects.inc({ class: letter.code, door: 'clickhouse' });
      this.log.error(
        { event_id: letter.event_id, err: letter.message },
        'ClickHouse refused an event; stored as a dead letter',
      );
    }
    await this.#retrying(letters.length, () => this.sink.insertDeadLetters(letters));
  }

  /** Runs an insert until it succeeds, with capped exponential backoff and jitter; RowsRefusedError and shutdown end it. */
  async #retrying(rows: number, insert: () => Promise<void>): Promise<void> {
    let backoff = Math.min(100, this.opts.retryMaxBackoffMs);
    for (let attempt = 1; ; attempt++) {
      try {
        const started = performance.now();
        await insert();
        this.metrics.insertSeconds.observe((performance.now() - started) / 1000);
        if (attempt > 1) this.log.info({ attempt, rows }, 'insert succeeded after retries');
        return;
      } catch (err) {
        if (err instanceof RowsRefusedError) throw err;
        this.metrics.insertFailures.inc();
        if (this.#giveUp)
          throw new BatcherClosedError(`ClickHouse insert failed at shutdown: ${(err as Error).message}`);
        const delay = Math.round(backoff / 2 + (Math.random() * backoff) / 2);
        this.log.warn(
          { attempt, rows, retryInMs: delay, err: (err as Error).message },
          'ClickHouse insert failed; retrying (rows stay buffered, Kafka offsets stay uncommitted)',
        );
        await sleep(delay);
        backoff = Math.min(backoff * 2, this.opts.retryMaxBackoffMs);
      }
    }
  }

  #release(batch: Submission[], err?: Error) {
    for (const s of batch) {
      this.#bufferedRows -= rowsOf(s);
      if (s.tenant !== undefined) {
        const left = (this.#tenantRows.get(s.tenant) ?? 0) - rowsOf(s);
        if (left > 0) this.#tenantRows.set(s.tenant, left);
        else this.#tenantRows.delete(s.tenant);
      }
      if (err) s.reject(err);
      else s.resolve();
    }
    this.metrics.bufferRows.set(this.#bufferedRows);
    for (const wake of this.#roomWaiters.splice(0)) wake();
  }
}
