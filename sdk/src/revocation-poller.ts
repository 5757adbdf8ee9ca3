/**
 * Keeps a denylist current by polling tokenwatch's `GET /v1/revocations` (for verifiers without
 * Kafka): every `intervalMs`, the notices after the last cursor — minus an overlap, because notices
 * stored by several tokenwatch instances may land slightly out of order (repeats are harmless).
 * Failures are logged (rate-limited) and retried; verification never waits on the poller.
 *
 * The answers are not trusted to be right. The cursor moves only as far as the notices received
 * justify — the largest `seq` among them after the cursor asked for, and never past this host's
 * clock — never to the server's `next_after`: a server with a fast clock, or a hostile one, cannot
 * make the poller skip the notices after it (fail-closed: at worst notices are read again). Within
 * a cycle the pages are followed by the notices' seqs (at most `maxPagesPerPoll`). A page is refused whole when its body is over `maxResponseBytes` or it
 * holds more notices than asked for; each notice is checked by the denylist (times bounded there).
 */
import type { Denylist } from './denylist.ts';
import { baseUrl } from './http-reporter.ts';
import { RateLimitedWarning, type SdkLogger, stderrLogger } from './log.ts';
import { pause } from './pause.ts';

export interface RevocationPollerOptions {
  /** tokenwatch's base URL */
  url: string;
  /**
   * a denylist key (TOKENWATCH_DENYLIST_API_KEYS: reads notices and nothing else), a tenant API key
   * (the tenant's notices) or a read key (TOKENWATCH_READ_API_KEYS)
   */
  apiKey: string;
  denylist: Denylist;
  /**
   * `sha256` (default): ask for notices v2, whose ids are hashed (the denylist matches on the hash;
   * nothing on the wire names a subject or token); `raw`: notices v1 (tokenwatch before v2)
   */
  ids?: 'sha256' | 'raw';
  /** between polls, ms (default 1,000) */
  intervalMs?: number;
  /** re-read this much before the cursor, ms (default 60,000: clock skew between tokenwatch instances plus one slow insert) */
  overlapMs?: number;
  /** per request, ms (default 5,000) */
  timeoutMs?: number;
  /** notices per page asked for (default 10,000; tokenwatch's maximum) */
  pageLimit?: number;
  /** a page's body is refused past this many bytes (default 16 MiB: 10,000 notices are about 5 MiB) */
  maxResponseBytes?: number;
  /** pages read in one cycle at most; the rest waits for the next (default 100) */
  maxPagesPerPoll?: number;
  /** a seq further ahead of this host's clock than this is warned about (default 300,000); the cursor never passes the clock at all */
  maxClockSkewMs?: number;
  /** the clock (epoch ms; default Date.now) */
  now?: () => number;
  logger?: SdkLogger;
}

/** What a follower (this poller, or the Kafka one) counts. */
export interface FollowerStats {
  polls: number;
  failures: number;
  notices: number;
  lastError?: string;
}

export interface RevocationPollerStats extends FollowerStats {
  /** the cursor: the largest seq received and believed */
  cursor: number;
  /** notices whose seq was missing, not after the cursor asked for, or far beyond the clock: applied, not followed */
  untrustedSeqs: number;
  /** pages that said `more` but moved the cursor nowhere: the cycle ended there */
  stalls: number;
}

export interface RevocationFollower {
  /** resolves once the notices in force at start are applied */
  readonly ready: Promise<void>;
  stats(): FollowerStats;
  close(): Promise<void>;
}

/** The HTTP poller: a follower that also tells its cursor and what it did not believe. */
export interface RevocationPoller extends RevocationFollower {
  stats(): RevocationPollerStats;
}

interface Page {
  notices: unknown[];
  more: boolean;
}

/** seq = published ms × 1000 + index (tokenwatch's cursor) */
const SEQ_PER_MS = 1000;

export class PollAnswerError extends Error {
  readonly code = 'ERR_TOKENWATCH_POLL_ANSWER';
}

/** The body, refused once it passes `maxBytes` (announced or read). */
async function boundedText(response: Response, maxBytes: number): Promise<string> {
  const announced = Number(response.headers.get('content-length') ?? Number.NaN);
  if (announced > maxBytes) {
    await response.body?.cancel();
    throw new PollAnswerError(`answer of ${announced} bytes is over maxResponseBytes ${maxBytes}`);
  }
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new PollAnswerError(`answer is over maxResponseBytes ${maxBytes}`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function pollRevocations(o: RevocationPollerOptions): RevocationPoller {
  const endpoint = `${baseUrl(o.url, 'url')}/v1/revocations`;
  const intervalMs = o.intervalMs ?? 1_000;
  const overlap = (o.overlapMs ?? 60_000) * SEQ_PER_MS;
  const limit = Math.min(Math.max(1, o.pageLimit ?? 10_000), 10_000);
  const maxBytes = o.maxResponseBytes ?? 16 * 1024 * 1024;
  const maxPages = o.maxPagesPerPoll ?? 100;
  const skewMs = o.maxClockSkewMs ?? 300_000;
  const ids = o.ids ?? 'sha256';
  const now = o.now ?? Date.now;
  const log = o.logger ?? stderrLogger;
  const warning = new RateLimitedWarning(10_000);
  const seqWarning = new RateLimitedWarning(10_000);
  const stats: RevocationPollerStats = {
    polls: 0,
    failures: 0,
    notices: 0,
    cursor: 0,
    untrustedSeqs: 0,
    stalls: 0,
  };
  const stop = new AbortController();
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  const fetchPage = async (from: number): Promise<Page> => {
    const query = `after=${from}&limit=${limit}${ids === 'sha256' ? '&ids=sha256' : ''}`;
    const response = await fetch(`${endpoint}?${query}`, {
      headers: { authorization: `Bearer ${o.apiKey}` },
      signal: AbortSignal.any([stop.signal, AbortSignal.timeout(o.timeoutMs ?? 5_000)]),
    });
    const body = await boundedText(response, maxBytes);
    if (!response.ok) throw new PollAnswerError(`HTTP ${response.status}: ${body.slice(0, 300)}`);
    const page = JSON.parse(body) as Partial<Page> | null;
    if (typeof page !== 'object' || page === null || !Array.isArray(page.notices))
      throw new PollAnswerError(`not a revocations page: ${body.slice(0, 300)}`);
    if (page.notices.length > limit)
      throw new PollAnswerError(`${page.notices.length} notices in a page of at most ${limit}`);
    return { notices: page.notices, more: page.more === true };
  };

  /**
   * Where the page leaves off: `next`, the largest seq after `from` (to read the following page in
   * this cycle), and `cursor`, the same but never past this host's clock (where the next cycle
   * starts, less the overlap: notices of a clock ahead of ours are read again, never skipped).
   */
  const pageEnd = (notices: unknown[], from: number): { next: number; cursor: number } => {
    const nowSeq = now() * SEQ_PER_MS + (SEQ_PER_MS - 1);
    const absurd = nowSeq + skewMs * SEQ_PER_MS;
    let next = from;
    for (const n of notices) {
      const seq = typeof n === 'object' && n !== null ? (n as { seq?: unknown }).seq : undefined;
      const ok = typeof seq === 'number' && Number.isSafeInteger(seq) && seq > from;
      if (ok && seq > next) next = seq;
      if (!ok || seq > absurd) {
        stats.untrustedSeqs++;
        seqWarning.maybe((suppressed) =>
          log.warn(
            { endpoint, seq, after: from, suppressed },
            'a revocation notice whose seq is not after the cursor asked for, or far beyond the clock: applied; the cursor does not follow it',
          ),
        );
      }
    }
    return { next, cursor: Math.min(next, nowSeq) };
  };

  /** One cycle: from the cursor (less the overlap) through the pages, as far as the notices justify. */
  const poll = async () => {
    let from = Math.max(0, stats.cursor - overlap);
    for (let pages = 0; pages < maxPages; pages++) {
      const page = await fetchPage(from);
      stats.polls++;
      for (const n of page.notices) o.denylist.apply(n);
      stats.notices += page.notices.length;
      const end = pageEnd(page.notices, from);
      stats.cursor = Math.max(stats.cursor, end.cursor);
      if (!page.more) return;
      if (end.next <= from) {
        stats.stalls++;
        return; // `more` without a notice after the cursor: read again next cycle rather than loop or skip
      }
      from = end.next;
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
