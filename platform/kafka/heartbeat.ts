/** Awaiting long work inside a consumer's batch without losing the group membership. */

/** Awaits `work`, heartbeating every 2 s so a long wait does not cost the group membership. */
export async function withHeartbeat<T>(work: Promise<T>, heartbeat: () => Promise<void>): Promise<T> {
  const timer = setInterval(() => heartbeat().catch(() => undefined), 2000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}
