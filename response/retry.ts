/** Retrying a write that must not be lost (a response record, a revocation notice) until it succeeds or the stage closes. */
import type { Logger } from 'pino';
import { backoffMs } from './backoff.ts';

export interface KeepTryingOptions {
  /** what is being written, for the logs (e.g. "revocation records") */
  what: string;
  log: Logger;
  /** true once the stage is closing: the last failure is thrown instead of retried */
  closing: () => boolean;
  maxBackoffMs: number;
  onFailure?: () => void;
}

export async function keepTrying<T>(fn: () => Promise<T>, o: KeepTryingOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      o.onFailure?.();
      if (o.closing()) throw err;
      const wait = backoffMs({ baseMs: 100, maxMs: o.maxBackoffMs }, attempt);
      o.log.warn(
        { attempt, retryInMs: wait, err: (err as Error).message },
        `storing ${o.what} failed; retrying`,
      );
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
