/**
 * Keeps a denylist current by polling tokenwatch's `GET /v1/revocations` (for verifiers without
 * Kafka): every `intervalMs`, the notices after the last cursor — minus an overlap, because notices
 * stored by several tokenwatch instances may land slightly out of order (repeats are harmless).
 * Failures are logged (rate-limited) and retried; verification never waits on the poller.
 */
import type { Denylist } from './denylist.ts';
import { baseUrl } from './http-reporter.ts';
import { RateLimitedWarning, type SdkLogger, stderrLogger } from './log.ts';
import { pause } from './pause.ts';

export interface RevocationPollerOptions {
  /** tokenwatch's base URL */
  url: string;
  /** a tenant API key (the tenant's notices) or a read key (TOKENWATCH_READ_API_KEYS) */
  apiKey: string;
  denylist: Denylist;
  /** between polls, ms (default 1,000) */
  intervalMs?: number;
  /** re-read this much before the cursor, ms (default 60,000: clock skew between tokenwatch instances plus one slow insert) */
  overlapMs?: number;
  /** per request, ms (default 5,000) */
  timeoutMs?: number;
  logger?: SdkLogger;
}

export interface RevocationFollower {
  /** resolves once the notices in force at start are applied */
  readonly ready: Promise<void>;
  stats(): { polls: number; failures: number; notices: number; lastError?: string };
  close(): Promise<void>;
}

interface Page {
  notices: unknown[];
  next_after: number;
  more: boolean;
}

/** seq = published ms × 1000 + index (tokenwatch's cursor) */
const SEQ_PER_MS = 1000;
const PAGE_LIMIT = 10_000;

export function pollRevocations(o: RevocationPollerOptions): RevocationFollower {
  const endpoint = `${baseUrl(o.url, 'url')}/v1/revocations`;
  const intervalMs = o.intervalMs ?? 1_000;
  const overlap = (o.overlapMs ?? 60_000) * SEQ_PER_MS;
  const log = o.logger ?? stderrLogger;
  const warning = new RateLimitedWarning(10_000);
  const stats = { polls: 0, failures: 0, notices: 0, lastError: undefined as string | undefined };
  const stop = new AbortController();
  let after = 0;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  const fetchPage = async (from: number): Promise<Page> => {
    const response = await fetch(`${endpoint}?after=${from}&limit=${PAGE_LIMIT}`, {
      headers: { authorization: `Bearer ${o.apiKey}` },
      signal: AbortSignal.any([stop.signal, AbortSignal.timeout(o.timeoutMs ?? 5_000)]),
    });
    const body = await response.text();
    if (!response.ok) throw new Error(`HTTP ${response.status}: ${body.slice(0, 300)}`);
    const page = JSON.parse(body) as Page;
    if (!Array.isArray(page.notices) || typeof page.next_after !== 'number')
      throw new Error(`not a revocations page: ${body.slice(0, 300)}`);
    return page;
  };

  /** One cycle: from the cursor (less the overlap) through every page. */
  const poll = async () => {
    let from = Math.max(0, after - overlap);
    for (;;) {
      const page = await fetchPage(from);
      stats.polls++;
      for (const n of page.notices) o.denylist.apply(n);
      stats.notices += page.notices.length;
      after = Math.max(after, page.next_after);
      if (!page.more || page.next_after <= from) return;
      from = page.next_after;
    }
  };

  const loop = (async () => {
    let backoffMs = intervalMs;
    while (!stop.signal.aborted) {
      try {
        await poll();
        markReady();
        backoffMs = intervalMs;
      } catch (err) {
        if (stop.signal.aborted) break;
        stats.failures++;
        stats.lastError = (err as Error).message;
        warning.maybe((suppressed) =>
          log.error(
            { endpoint, error: stats.lastError, failuresSinceLastWarning: suppressed },
            'could not poll tokenwatch for revocations; retrying (revoked tokens are refused once it answers)',
          ),
        );
        backoffMs = Math.min(backoffMs * 2, 30_000);
      }
      await pause(backoffMs, stop.signal);
    }
  })();

  return {
    ready,
    stats: () => ({ ...stats }),
    async close() {
      stop.abort();
      await loop;
    },
  };
}
