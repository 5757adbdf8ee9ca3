/**
 * Non-blocking event reporting: `report()` only puts the event in a bounded queue and returns.
 * Where the transport takes JSON text (HTTP), the event is serialised as it is reported and the queue
 * holds only its text: no object outlives the call, and a batch is its texts joined.
 * Batches go out one at a time (order kept) through a transport (HTTP, Kafka); when the sink is
 * slow or down they wait and are retried with backoff, and once the queue is full the oldest
 * events are dropped and counted (a rate-limited warning says so). `close()` flushes for a while
 * on shutdown. The request path never waits for the sink and never sees its errors.
 */
import type { TokenEvent } from './events.ts';
import { RateLimitedWarning, type SdkLogger, stderrLogger } from './log.ts';
import { RingQueue } from './ring-queue.ts';

export interface Reporter {
  /** Queues the event; never throws, never waits. */
  report(event: TokenEvent): void;
  /**
   * Where the reporter sends JSON text (the HTTP reporter): queues one event already serialised as
   * a contract JSON object, so a caller that writes the text itself (the verifier) builds no object.
   * Undefined where the transport needs objects (the Kafka reporter keys each by tenant and subject).
   */
  readonly reportJson?: ((json: string) => void) | undefined;
  /** Resolves once everything queued so far was sent or dropped (or after `timeoutMs`). */
  flush(timeoutMs?: number): Promise<void>;
  /** Flushes for at most the close timeout, then stops; what is left is dropped and counted. */
  close(): Promise<void>;
  stats(): ReporterStats;
}

export interface ReporterStats {
  /** events given to report() */
  reported: number;
  /** events waiting in the queue */
  queued: number;
  /** events the sink took */
  sent: number;
  /** events dropped, by why: the queue was full, the sink refused them, or the reporter closed */
  dropped: { queue_full: number; refused: number; closed: number };
  /** batches that failed (and were retried or refused) */
  sendFailures: number;
  lastError?: string;
}

/** What a transport says about one batch. */
export type SendResult =
  | {
      ok: true;
      /** events the sink refused individually (they break the contract), and why */
      refused?: number;
      detail?: string;
    }
  | { ok: false; retry: boolean; error: string };

export interface Transport {
  /** where the events go, for logs */
  readonly target: string;
  send(batch: TokenEvent[]): Promise<SendResult>;
  /**
   * Sends events serialised as JSON objects, one text each; a transport that has it is given text
   * only (the reporter serialises each event as it is reported, and `send` is not called).
   */
  sendJson?(batch: string[]): Promise<SendResult>;
  close?(): Promise<void>;
}

export interface ReporterOptions {
  /** events held while the sink is slow or down; past it the oldest are dropped (default 10,000) */
  maxQueue?: number;
  /**
   * events per batch at most (default 500; the HTTP reporter's: 2,000, at most maxQueue / 4): a batch goes out once it is
   * full or once its oldest event has waited lingerMs, whichever comes first, so a larger one costs
   * no latency — at a high rate it lets the batch follow the rate (rate × lingerMs events)
   */
  batchSize?: number;
  /** how long an event may wait for its batch to fill up, ms (default 20) */
  lingerMs?: number;
  /** retry backoff, ms: first wait and cap (default 100 and 5,000; with full jitter) */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** how long `close()` keeps flushing, ms (default 5,000) */
  closeTimeoutMs?: number;
  /** at most one warning about drops or failures per this interval, ms (default 10,000) */
  warnIntervalMs?: number;
  logger?: SdkLogger;
}

/** The options' defaults. */
export const REPORTER_DEFAULTS: Readonly<Required<Omit<ReporterOptions, 'logger'>>> = {
  maxQueue: 10_000,
  batchSize: 500,
  lingerMs: 20,
  retryMinMs: 100,
  retryMaxMs: 5_000,
  closeTimeoutMs: 5_000,
  warnIntervalMs: 10_000,
};

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0)
    throw new RangeError(`reporter option ${name} must be a non-negative integer; got ${value}`);
  return value;
}

export class BatchingReporter implements Reporter {
  readonly #transport: Transport;
  readonly #o: Required<Omit<ReporterOptions, 'logger'>>;
  readonly #log: SdkLogger;
  /** events, or their JSON text where the transport takes text (#json) */
  readonly #queue: RingQueue<TokenEvent | string>;
  readonly #json: ((batch: string[]) => Promise<SendResult>) | undefined;
  readonly reportJson: ((json: string) => void) | undefined;
  readonly #dropWarning: RateLimitedWarning;
  readonly #failureWarning: RateLimitedWarning;
  readonly #stats: ReporterStats = {
    reported: 0,
    queued: 0,
    sent: 0,
    dropped: { queue_full: 0, refused: 0, closed: 0 },
    sendFailures: 0,
  };
  /** positions of the batch in flight: items pushed out of it are counted when it fails */
  #inFlight = { from: 0, to: 0 };
  /**
   * when the oldest event not yet given to the transport was reported (performance.now()):
   * undefined while there is none; -Infinity when it is older than that (left over from a batch
   * that could not take everything: it is due at once)
   */
  #oldestAt: number | undefined;
  #pumping: Promise<void> | undefined;
  #linger: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(transport: Transport, options: ReporterOptions = {}) {
    this.#transport = transport;
    const o = { ...REPORTER_DEFAULTS };
    for (const name of Object.keys(REPORTER_DEFAULTS) as (keyof typeof REPORTER_DEFAULTS)[]) {
      const value = options[name];
      if (value !== undefined) o[name] = positiveInteger(name, value);
    }
    this.#o = o;
    if (this.#o.maxQueue < 1 || this.#o.batchSize < 1)
      throw new RangeError('reporter options maxQueue and batchSize must be at least 1');
    this.#log = options.logger ?? stderrLogger;
    this.#queue = new RingQueue(this.#o.maxQueue);
    this.#dropWarning = new RateLimitedWarning(this.#o.warnIntervalMs);
    this.#failureWarning = new RateLimitedWarning(this.#o.warnIntervalMs);
    this.#json = transport.sendJson?.bind(transport);
    this.reportJson = this.#json === undefined ? undefined : (json) => this.#enqueue(json);
  }

  report(event: TokenEvent): void {
    if (this.#json === undefined) {
      this.#enqueue(event);
      return;
    }
    let json: string;
    try {
      json = JSON.stringify(event);
    } catch (err) {
      // a value JSON cannot hold (a BigInt, a cycle) in an event the caller built: it is never sent
      this.#stats.reported++;
      this.#stats.dropped.refused++;
      this.#failureWarning.maybe(() =>
        this.#log.warn(
          { target: this.#transport.target, error: (err as Error).message, eventId: event.event_id },
          'an event given to the tokenwatch reporter cannot be serialised as JSON (a BigInt or a cycle in it); it is dropped and counted as refused',
        ),
      );
      return;
    }
    this.#enqueue(json);
  }

  #enqueue(item: TokenEvent | string): void {
    this.#stats.reported++;
    if (this.#closed) {
      this.#stats.dropped.closed++;
      return;
    }
    const pushedOut = this.#queue.push(item);
    this.#oldestAt ??= performance.now();
    if (pushedOut >= 0 && !(pushedOut >= this.#inFlight.from && pushedOut < this.#inFlight.to)) {
      this.#stats.dropped.queue_full++;
      this.#warnDropped();
    }
    if (this.#pumping !== undefined) return;
    // Not sending and nothing lingering: the queue was empty, this event is the oldest.
    if (this.#queue.size >= this.#o.batchSize) this.#pump();
    else this.#linger ??= setTimeout(() => this.#pump(), this.#o.lingerMs).unref();
  }

  async flush(timeoutMs?: number): Promise<void> {
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    while (this.#queue.size > 0 && !this.#closed && Date.now() < deadline) {
      const pumping = this.#pumping ?? this.#pump();
      if (deadline === Number.POSITIVE_INFINITY) await pumping;
      else await Promise.race([pumping, sleep(deadline - Date.now())]);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush(this.#o.closeTimeoutMs);
    this.#closed = true;
    clearTimeout(this.#linger);
    this.#wake?.();
    await this.#pumping;
    const lost = this.#queue.drain().length;
    this.#stats.dropped.closed += lost;
    if (lost > 0)
      this.#log.warn(
        { lost, target: this.#transport.target, closeTimeoutMs: this.#o.closeTimeoutMs },
        'tokenwatch reporter closed with events the sink did not take; they are lost',
      );
    await this.#transport.close?.();
  }

  stats(): ReporterStats {
    return { ...this.#stats, dropped: { ...this.#stats.dropped }, queued: this.#queue.size };
  }

  #pump(): Promise<void> {
    clearTimeout(this.#linger);
    this.#linger = undefined;
    this.#pumping ??= this.#sendAll().finally(() => {
      this.#pumping = undefined;
      // What arrived meanwhile waits only for what is left of its oldest event's linger: the time
      // the batch before it took counts (no event waits longer than lingerMs for a batch to fill).
      if (this.#queue.size === 0 || this.#closed) return;
      const left = this.#lingerLeft();
      // due already: at once (a timer of 0 waits a millisecond)
      if (left === 0) void this.#pump();
      else this.#linger ??= setTimeout(() => this.#pump(), left).unref();
    });
    return this.#pumping;
  }

  async #sendAll(): Promise<void> {
    let backoffMs = this.#o.retryMinMs;
    while (this.#queue.size > 0 && !this.#closed) {
      const { from, items } = this.#queue.peek(this.#o.batchSize);
      this.#inFlight = { from, to: from + items.length };
      // the events after this batch: none yet, or older ones it could not take (due at once)
      this.#oldestAt = items.length === this.#queue.size ? undefined : Number.NEGATIVE_INFINITY;
      let result: SendResult;
      try {
        result = await (this.#json === undefined
          ? this.#transport.send(items as TokenEvent[])
          : this.#json(items as string[]));
      } catch (err) {
        result = { ok: false, retry: true, error: (err as Error).message };
      }
      // Items of this batch pushed out while it was in flight: sent now, or lost if it failed.
      const pushedOut = Math.max(0, Math.min(this.#queue.start, this.#inFlight.to) - from);
      this.#inFlight = { from: 0, to: 0 };
      if (result.ok) {
        this.#queue.ack(from + items.length);
        const refused = result.refused ?? 0;
        this.#stats.sent += items.length - refused;
        this.#stats.dropped.refused += refused;
        if (refused > 0) this.#warnRefused(refused, result.detail);
        backoffMs = this.#o.retryMinMs;
        // Less than a batch left: it lingers to fill up (see #pump), instead of going out at once
        // in small pieces, a request per few events, while the sink answers fast.
        if (this.#queue.size < this.#o.batchSize) break;
        continue;
      }
      this.#stats.sendFailures++;
      this.#stats.lastError = result.error;
      this.#stats.dropped.queue_full += pushedOut;
      if (!result.retry) {
        this.#queue.ack(from + items.length);
        this.#stats.dropped.refused += items.length - pushedOut;
      }
      this.#failureWarning.maybe((suppressed) =>
        this.#log.error(
          {
            target: this.#transport.target,
            error: result.error,
            events: items.length,
            queued: this.#queue.size,
            failuresSinceLastWarning: suppressed,
          },
          result.retry
            ? 'tokenwatch sink unavailable; events are queued and retried (oldest dropped when the queue is full)'
            : 'tokenwatch sink refused a batch; it is dropped (check the API key, URL or topic)',
        ),
      );
      if (!result.retry) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.random() * backoffMs).unref();
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      backoffMs = Math.min(backoffMs * 2, this.#o.retryMaxMs);
    }
  }

  /** ms until the oldest event waiting has lingered lingerMs (0: it has). */
  #lingerLeft(): number {
    if (this.#oldestAt === undefined) return this.#o.lingerMs;
    return Math.max(0, this.#oldestAt + this.#o.lingerMs - performance.now());
  }

  #warnRefused(refused: number, detail: string | undefined): void {
    this.#failureWarning.maybe(() =>
      this.#log.warn(
        { target: this.#transport.target, refused, detail },
        'tokenwatch refused some events (they break the event contract); they are not resent',
      ),
    );
  }

  #warnDropped(): void {
    this.#dropWarning.maybe(() =>
      this.#log.warn(
        {
          target: this.#transport.target,
          dropped: this.#stats.dropped.queue_full,
          maxQueue: this.#o.maxQueue,
          lastError: this.#stats.lastError,
        },
        'tokenwatch reporter queue is full (the sink is slow or down): dropping the oldest events',
      ),
    );
  }
}

/** A bounded wait that keeps the process up (a flush on shutdown must be allowed to finish). */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
