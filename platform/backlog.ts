/**
 * Writes that are being retried, by when they began: what must not be lost and is not stored yet.
 * Readiness reads the oldest (a service whose writes have failed for long is not ready, so load
 * balancers send elsewhere while an operator fixes ClickHouse or the schema).
 */
export class WriteBacklog {
  readonly #since = new Map<number, { what: string; atMs: number }>();
  #next = 0;

  /** Registers a write that began at `atMs` and is still unstored; call the returned function once it is settled. */
  begin(what: string, atMs: number): () => void {
    const id = this.#next++;
    this.#since.set(id, { what, atMs });
    return () => {
      this.#since.delete(id);
    };
  }

  /** The oldest unsettled write and how long it has waited, or undefined. */
  oldest(nowMs = Date.now()): { what: string; waitedMs: number } | undefined {
    // Insertion order is begin order: the first entry is the oldest.
    for (const { what, atMs } of this.#since.values()) return { what, waitedMs: Math.max(0, nowMs - atMs) };
    return undefined;
  }
}
