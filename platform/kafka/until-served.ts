/**
 * Waits until topics created a moment ago are served: a fresh topic's partitions need their leaders
 * elected, and in KRaft a broker may answer UNKNOWN_TOPIC_OR_PARTITION ("This server does not host
 * this topic-partition") for a short while after CreateTopics succeeded. Retries a probe of the
 * topics on those retriable errors only, with a bounded backoff and a log line per retry; any other
 * error, or the deadline passing, is thrown with what was waited for.
 */
import type { Logger } from 'pino';
import { backoffMs } from '../backoff.ts';

/** The errors a partition answers with while its leader is being elected or not yet served. */
const NOT_SERVED_YET = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
]);

export interface UntilServedOptions {
  topics: string[];
  log: Logger;
  /** give up after this long (ms) */
  timeoutMs: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** injectable for tests */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/**
 * Whether an error is one a partition answers with until it is served (leader elected, known),
 * also when kafkajs wrapped it after its own retries (`originalError`, `cause`).
 */
export function isNotServedYet(err: unknown): boolean {
  for (let e = err as Wrapped | undefined, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (typeof e.type === 'string' && NOT_SERVED_YET.has(e.type)) return true;
    e = e.originalError ?? e.cause;
  }
  return false;
}

interface Wrapped {
  type?: unknown;
  originalError?: Wrapped;
  cause?: Wrapped;
}

/** Resolves once `probe` (which throws while a topic is not served) succeeds. */
export async function untilServed(probe: () => Promise<void>, o: UntilServedOptions): Promise<void> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = now();
  for (let attempt = 1; ; attempt++) {
    try {
      await probe();
      if (attempt > 1)
        o.log.info(
          { topics: o.topics, attempts: attempt, waitedMs: now() - started },
          'new topics are served',
        );
      return;
    } catch (err) {
      if (!isNotServedYet(err)) throw err;
      const waited = now() - started;
      if (waited >= o.timeoutMs)
        throw new Error(
          `the new topics ${o.topics.join(', ')} were still not served after ${waited} ms (${(err as Error).message}): ` +
            'their partitions have no leader yet. Check that the Kafka brokers are up and can elect leaders, then start again.',
        );
      const wait = Math.min(
        backoffMs({ baseMs: o.baseBackoffMs ?? 100, maxMs: o.maxBackoffMs ?? 1000 }, attempt),
        Math.max(1, o.timeoutMs - waited),
      );
      o.log.warn(
        { topics: o.topics, attempt, retryInMs: wait, err: (err as Error).message },
        'new topics are not served yet (partition leaders being elected); retrying',
      );
      await sleep(wait);
    }
  }
}
