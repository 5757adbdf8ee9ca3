/**
 * The denylist's eviction order: entries grouped by the minute they expire in (a bucket), the
 * buckets in a min-heap. The entry expiring soonest — an expired one first — is found and removed
 * in O(1) (a bucket's first entry; the heap only moves when a bucket empties or a new minute
 * appears: O(log buckets), and there are at most as many buckets as minutes of token lifetime).
 * Within a bucket entries leave in insertion order. Sweeping expired entries touches only them.
 */

/** What the index needs of an entry: its expiry, and a slot it keeps the entry's bucket in. */
export interface Expiring {
  expiresMs: number;
  bucket: number;
}

/** Width of a bucket, ms: entries expiring within one minute are evicted in insertion order. */
export const BUCKET_MS = 60_000;

export class ExpiryIndex<T extends Expiring> {
  readonly #buckets = new Map<number, Set<T>>();
  /** bucket numbers, a binary min-heap (each present once) */
  readonly #heap: number[] = [];

  get buckets(): number {
    return this.#buckets.size;
  }

  add(entry: T): void {
    const bucket = Math.floor(entry.expiresMs / BUCKET_MS);
    entry.bucket = bucket;
    let set = this.#buckets.get(bucket);
    if (set === undefined) {
      set = new Set();
      this.#buckets.set(bucket, set);
      this.#push(bucket);
    }
    set.add(entry);
  }

  remove(entry: T): void {
    const set = this.#buckets.get(entry.bucket);
    if (set === undefined) return;
    set.delete(entry);
    // an empty bucket stays in the heap until it comes to the top (#top drops it): O(1) here
  }

  /** Moves an entry whose expiry changed. */
  update(entry: T): void {
    if (Math.floor(entry.expiresMs / BUCKET_MS) === entry.bucket) return;
    this.remove(entry);
    this.add(entry);
  }

  /** The entry expiring soonest (first added among its minute's), removed; undefined when empty. */
  takeSoonest(): T | undefined {
    const set = this.#top();
    if (set === undefined) return undefined;
    const entry = set.values().next().value as T;
    set.delete(entry);
    return entry;
  }

  /** Removes and returns the entries of every bucket that ended by `nowMs` (all of them expired). */
  takeExpired(nowMs: number): T[] {
    const out: T[] = [];
    for (let set = this.#top(); set !== undefined; set = this.#top()) {
      const bucket = this.#heap[0]!;
      if ((bucket + 1) * BUCKET_MS > nowMs) break;
      for (const entry of set) out.push(entry);
      set.clear();
    }
    return out;
  }

  /** Removes and returns the expired entries of the soonest bucket (the one `nowMs` falls in, or a later one). */
  takeExpiredOfSoonest(nowMs: number): T[] {
    const set = this.#top();
    const out: T[] = [];
    if (set === undefined) return out;
    for (const entry of set) if (entry.expiresMs <= nowMs) out.push(entry);
    for (const entry of out) set.delete(entry);
    return out;
  }

  /** The soonest non-empty bucket's entries (empty buckets at the top are dropped on the way). */
  #top(): Set<T> | undefined {
    while (this.#heap.length > 0) {
      const bucket = this.#heap[0]!;
      const set = this.#buckets.get(bucket)!;
      if (set.size > 0) return set;
      this.#buckets.delete(bucket);
      this.#pop();
    }
    return undefined;
  }

  #push(bucket: number): void {
    const h = this.#heap;
    let i = h.push(bucket) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]! <= bucket) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = bucket;
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]! < h[l]! ? r : l;
      if (h[c]! >= last) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}
