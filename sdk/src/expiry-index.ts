/**
 * The denylist's eviction order: entries grouped by the minute they expire in (a bucket), the
 * buckets in a min-heap. The entry expiring soonest — an expired one first — is found and removed
 * in O(1) (a bucket's first entry; the heap only moves when a bucket empties or a new minute
 * appears: O(log buckets), and there are at most as many buckets as minutes of token lifetime).
 * Within a bucket entries leave in insertion order (a queue: an array and its head, compacted as it
 * is consumed). Sweeping expired entries touches only them and the current minute's bucket.
 */

/** What the index needs of an entry: its expiry, and a slot it keeps the entry's bucket in. */
export interface Expiring {
  expiresMs: number;
  bucket: number;
}

/** Width of a bucket, ms: entries expiring within one minute are evicted in insertion order. */
export const BUCKET_MS = 60_000;

interface Bucket<T> {
  items: T[];
  /** items before it are taken */
  head: number;
  /** items from head on that are still this bucket's (a moved entry stays behind, stale) */
  live: number;
}

export class ExpiryIndex<T extends Expiring> {
  readonly #buckets = new Map<number, Bucket<T>>();
  /** bucket numbers, a binary min-heap (each present once) */
  readonly #heap: number[] = [];

  get buckets(): number {
    return this.#buckets.size;
  }

  add(entry: T): void {
    const number = Math.floor(entry.expiresMs / BUCKET_MS);
    entry.bucket = number;
    let bucket = this.#buckets.get(number);
    if (bucket === undefined) {
      bucket = { items: [], head: 0, live: 0 };
      this.#buckets.set(number, bucket);
      this.#push(number);
    }
    bucket.items.push(entry);
    bucket.live++;
  }

  /** Moves an entry whose expiry grew (expiries only grow: it never comes back to a bucket it left). */
  update(entry: T): void {
    const old = entry.bucket;
    if (Math.floor(entry.expiresMs / BUCKET_MS) === old) return;
    const bucket = this.#buckets.get(old);
    if (bucket !== undefined) bucket.live--; // its slot there is stale now: skipped when reached
    this.add(entry);
  }

  /** The entry expiring soonest (first added among its minute's), removed; undefined when empty. */
  takeSoonest(): T | undefined {
    const found = this.#top();
    if (found === undefined) return undefined;
    const [number, bucket] = found;
    for (;;) {
      const entry = bucket.items[bucket.head++]!;
      if (entry.bucket !== number) continue; // moved to a later minute
      bucket.live--;
      if (bucket.head >= 1024 && bucket.head * 2 >= bucket.items.length) {
        bucket.items = bucket.items.slice(bucket.head);
        bucket.head = 0;
      }
      return entry;
    }
  }

  /** Removes and returns the entries of every bucket that ended by `nowMs` (all of them expired). */
  takeExpired(nowMs: number): T[] {
    const out: T[] = [];
    for (let found = this.#top(); found !== undefined; found = this.#top()) {
      const [number, bucket] = found;
      if ((number + 1) * BUCKET_MS > nowMs) break;
      for (let i = bucket.head; i < bucket.items.length; i++)
        if (bucket.items[i]!.bucket === number) out.push(bucket.items[i]!);
      bucket.items = [];
      bucket.head = 0;
      bucket.live = 0;
    }
    return out;
  }

  /** Removes and returns the expired entries of the soonest bucket (O(its size): for the periodic sweep). */
  takeExpiredOfSoonest(nowMs: number): T[] {
    const found = this.#top();
    const out: T[] = [];
    if (found === undefined) return out;
    const [number, bucket] = found;
    const kept: T[] = [];
    for (let i = bucket.head; i < bucket.items.length; i++) {
      const entry = bucket.items[i]!;
      if (entry.bucket !== number) continue;
      (entry.expiresMs <= nowMs ? out : kept).push(entry);
    }
    bucket.items = kept;
    bucket.head = 0;
    bucket.live = kept.length;
    return out;
  }

  /** The soonest bucket holding entries (empty buckets at the top are dropped on the way). */
  #top(): [number, Bucket<T>] | undefined {
    while (this.#heap.length > 0) {
      const number = this.#heap[0]!;
      const bucket = this.#buckets.get(number)!;
      if (bucket.live > 0) return [number, bucket];
      this.#buckets.delete(number);
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
