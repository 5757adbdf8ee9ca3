/**
 * Retrying a write that must not be lost (detections, response records, revocation notices) until
 * it succeeds or its stage closes, with exponential backoff and jitter.
 */
import type { Logger } from 'pino';
import type { WriteBacklog } from './backlog.ts';
import { backoffMs } from './backoff.ts';
import { RowsRefusedError } from './clickhouse/refusals.ts';

export interface KeepTryingOptions {
  /** what is being written, for the logs (e.g. "revocation records") */
  what: string;
  log: Logger;
  /** true once the stage is closing: the last failure is thrown instead of retried */
  closing: () => boolean;
  /** ceiling of the first delay (ms; default 100), doubling per attempt up to `maxBackoffMs` */
  baseBackoffMs?: number;
  maxBackoffMs: number;
  onFailure?: () => void;
  /** more fields for the warning (e.g. the sink and the batch size) */
  context?: Record<string, unknown>;
  /** where a write that keeps failing is registered (readiness reads its age) */
  backlog?: WriteBacklog;
}

/**
 * Runs `fn` until it succeeds. RowsRefusedError is never retried (the same rows would be refused
 * again: the caller isolates them); the stage closing ends the retries with the last error.
 */
export async function keepTrying<T>(fn: () => Promise<T>, o: KeepTryingOptions): Promise<T> {
  const startedMs = Date.now();
  let settle: (() => void) | undefined;
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof RowsRefusedError) throw err;
        o.onFailure?.();
        if (o.closing()) throw err;
        settle ??= o.backlog?.begin(o.what, startedMs);
        const wait = backoffMs({ baseMs: o.baseBackoffMs ?? 100, maxMs: o.maxBackoffMs }, attempt);
        o.log.warn(
          { ...o.context, attempt, retryInMs: wait, err: (err as Error).message },
          `storing ${o.what} failed; retrying`,
        );
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  } finally {
    settle?.();
  }
}
