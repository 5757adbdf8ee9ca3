/**
 * Sends events to tokenwatch's ingest API (POST /v1/events, a JSON array per batch) without ever
 * blocking or failing the request that produced them: a bounded queue (oldest dropped and counted
 * when full), batches of up to `batchSize` or whatever queued within `lingerMs`, retries with
 * backoff on network errors, 408, 429 and 5xx, in order. Any other 4xx is logged and the batch dropped.
 */

export interface EventReporter {
  report(event: Record<string, unknown>): void;
  /** Resolves when everything queued so far has been sent (or dropped). */
  flush(): Promise<void>;
  /** Flushes for at most the close timeout, then stops; later events are dropped. */
  close(): Promise<void>;
}

/** The logging the reporter needs (a pino / fastify logger fits). */
export interface ReporterLog {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface HttpReporterOptions {
  /** tokenwatch's base URL; events go to `${url}/v1/events` */
  url: string;
  apiKey: string;
  log: ReporterLog;
  batchSize?: number;
  lingerMs?: number;
  maxQueue?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  requestTimeoutMs?: number;
  closeTimeoutMs?: number;
}

const DEFAULTS = {
  batchSize: 200,
  lingerMs: 20,
  maxQueue: 10_000,
  retryMinMs: 100,
  retryMaxMs: 5000,
  requestTimeoutMs: 5000,
  closeTimeoutMs: 5000,
} satisfies Partial<HttpReporterOptions>;

/** Reports nothing: used when AUTH_TOKENWATCH_URL is unset. */
export const noopReporter: EventReporter = {
  report: () => undefined,
  flush: async () => undefined,
  close: async () => undefined,
};

const DROP_WARNING_INTERVAL_MS = 10_000;

export class HttpEventReporter implements EventReporter {
  private readonly endpoint: string;
  private readonly options: Required<HttpReporterOptions>;
  private queue: Record<string, unknown>[] = [];
  private lingerTimer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  /** ends the current retry wait early (close) */
  private wake: (() => void) | undefined;
  private closed = false;
  private lastDropWarningMs = 0;
  /** events dropped: the queue was full, tokenwatch refused them with a 4xx, or the reporter closed */
  dropped = 0;

  constructor(options: HttpReporterOptions) {
    this.endpoint = `${options.url.replace(/\/+$/, '')}/v1/events`;
    this.options = { ...DEFAULTS, ...options };
  }

  report(event: Record<string, unknown>): void {
    if (this.closed) {
      this.drop(1, 'the reporter is closed');
      return;
    }
    this.queue.push(event);
    this.trimQueue();
    this.schedule();
  }

  async flush(): Promise<void> {
    // A batch in flight is out of the queue: wait for it too (it may come back to be retried).
    while ((this.queue.length > 0 || this.sending !== undefined) && !this.closed)
      await (this.sending ?? this.startSending());
  }

  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.closeTimeoutMs); // ref: keeps the process up until flushed
    });
    await Promise.race([this.flush(), timedOut]);
    clearTimeout(timer);
    this.closed = true;
    this.wake?.();
    await this.sending;
    const lost = this.queue.splice(0).length;
    if (lost === 0) return;
    this.dropped += lost;
    this.options.log.warn(
      { lost, closeTimeoutMs: this.options.closeTimeoutMs, endpoint: this.endpoint },
      'closed with events tokenwatch did not take; they are lost',
    );
  }

  /** Sends now when a batch is full, otherwise once the linger time has passed. */
  private schedule(): void {
    if (this.sending !== undefined) return;
    if (this.queue.length >= this.options.batchSize) void this.startSending();
    else this.lingerTimer ??= setTimeout(() => this.startSending(), this.options.lingerMs).unref();
  }

  private startSending(): Promise<void> {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.sending ??= this.sendAll().finally(() => {
      this.sending = undefined;
      if (this.queue.length > 0 && !this.closed) this.schedule();
    });
    return this.sending;
  }

  private async sendAll(): Promise<void> {
    let backoffMs = this.options.retryMinMs;
    while (this.queue.length > 0 && !this.closed) {
      const batch = this.queue.splice(0, this.options.batchSize);
      if (await this.send(batch)) {
        backoffMs = this.options.retryMinMs;
        continue;
      }
      // Put it back in front (order kept); what arrived meanwhile may now push the oldest out.
      this.queue.unshift(...batch);
      this.trimQueue();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoffMs).unref();
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      backoffMs = Math.min(backoffMs * 2, this.options.retryMaxMs);
    }
  }

  /** Sends one batch; false when it should be retried. */
  private async send(batch: Record<string, unknown>[]): Promise<boolean> {
    try {
      const response = await fetch(this.endpoint, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.options.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(batch),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
      const body = await response.text();
      if (response.ok) {
        this.warnOfRejectedEvents(body);
        return true;
      }
      const retry = response.status >= 500 || response.status === 408 || response.status === 429;
      if (!retry) this.dropped += batch.length;
      this.options.log.error(
        { endpoint: this.endpoint, status: response.status, body: body.slice(0, 2000), events: batch.length },
        retry
          ? 'tokenwatch refused events for now; retrying'
          : 'tokenwatch rejected events; dropped them (check AUTH_TOKENWATCH_API_KEY and the event contract)',
      );
      return !retry;
    } catch (err) {
      this.options.log.error(
        { endpoint: this.endpoint, err: (err as Error).message, events: batch.length },
        'could not reach tokenwatch (AUTH_TOKENWATCH_URL); retrying',
      );
      return false;
    }
  }

  /** tokenwatch answers 200 with `{ accepted, rejected, errors }`: events it refused are not worth resending. */
  private warnOfRejectedEvents(body: string): void {
    let result: { rejected?: number; errors?: unknown[] } | null;
    try {
      result = JSON.parse(body);
    } catch {
      return;
    }
    if (!result?.rejected) return;
    this.options.log.warn(
      { endpoint: this.endpoint, rejected: result.rejected, errors: result.errors?.slice(0, 5) },
      'tokenwatch refused some events (they break the event contract); they are not resent',
    );
  }

  private trimQueue(): void {
    const excess = this.queue.length - this.options.maxQueue;
    if (excess > 0) this.drop(this.queue.splice(0, excess).length, 'the queue is full');
  }

  private drop(count: number, why: string): void {
    this.dropped += count;
    const now = Date.now();
    if (now - this.lastDropWarningMs < DROP_WARNING_INTERVAL_MS) return;
    this.lastDropWarningMs = now;
    this.options.log.warn(
      { dropped: this.dropped, maxQueue: this.options.maxQueue, endpoint: this.endpoint },
      `dropped events for tokenwatch: ${why}`,
    );
  }
}
