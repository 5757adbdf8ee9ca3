/** Exponential backoff with full jitter (pure), shared by the revocation client and the webhooks. */

export interface BackoffPolicy {
  /** delay before the first retry (ms) */
  baseMs: number;
  /** ceiling of any single delay (ms) */
  maxMs: number;
}

/**
 * Delay before retry number `attempt` (1 = the first retry): a random point between half and all
 * of min(max, base·2^(attempt−1)), so that many clients retrying at once spread out.
 * `random` is injectable for tests.
 */
export function backoffMs(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

/** `Retry-After` as milliseconds (seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
