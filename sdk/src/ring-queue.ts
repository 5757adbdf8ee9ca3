/**
 * A bounded FIFO that drops its oldest item when full, in O(1): the reporters' queue, so that a
 * slow or absent sink costs the request path a constant, small price and bounded memory.
 * Items are numbered (absolute positions); a batch is read without removing it and acknowledged
 * by position once sent, so items that arrive (or are pushed out) meanwhile are accounted exactly.
 */
export class RingQueue<T> {
  readonly capacity: number;
  readonly #items: (T | undefined)[];
  /** position of the oldest item held */
  #start = 0;
  /** position the next item takes */
  #end = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`queue capacity must be a positive integer; got ${capacity}`);
    this.capacity = capacity;
    this.#items = new Array(capacity);
  }

  get size(): number {
    return this.#end - this.#start;
  }

  /** Position of the oldest item held. */
  get start(): number {
    return this.#start;
  }

  /** Adds an item; returns the position of the item pushed out to make room, or -1. */
  push(item: T): number {
    let dropped = -1;
    if (this.#end - this.#start === this.capacity) {
      dropped = this.#start;
      this.#items[this.#start % this.capacity] = undefined;
      this.#start++;
    }
    this.#items[this.#end % this.capacity] = item;
    this.#end++;
    return dropped;
  }

  /** Up to `max` of the oldest items (still held), with the position of the first. */
  peek(max: number): { from: number; items: T[] } {
    const n = Math.min(max, this.size);
    const items: T[] = new Array(n);
    for (let i = 0; i < n; i++) items[i] = this.#items[(this.#start + i) % this.capacity] as T;
    return { from: this.#start, items };
  }

  /** Removes every item before position `end` (those already pushed out are gone anyway). */
  ack(end: number): void {
    const upTo = Math.min(end, this.#end);
    for (let p = this.#start; p < upTo; p++) this.#items[p % this.capacity] = undefined;
    this.#start = Math.max(this.#start, upTo);
  }

  /** Removes and returns everything held. */
  drain(): T[] {
    const { items } = this.peek(this.size);
    this.ack(this.#end);
    return items;
  }
}
