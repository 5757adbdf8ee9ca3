/**
 * The pieces of a partition's batches whose writes (rows stored, detections stored and published)
 * go on after the consumer has moved on to the next piece or fetch. Each piece's offset is marked
 * for commit once it and every earlier piece of its partition are done, in offset order, so a
 * commit never passes a piece that is not done; a piece that fails holds the partition's later
 * marks back (its offsets stay uncommitted and are read again by whoever owns the partition next).
 * How many pieces of one partition may have a part still busy (the detections' writes: the rows'
 * buffer has its own bound, the batcher's) is bounded: the consumer waits for room before it takes
 * more. The rows' part must not count: a batcher waits to fill its insert, and pieces held back
 * until their rows are stored would never fill it (and it would flush on its timer alone).
 *
 * Why: a fetch's detections are written to ClickHouse and Kafka (tens of milliseconds under load).
 * Awaiting that inside the batch handler holds the next fetch of every partition of the broker
 * back, and what arrives meanwhile waits in a queue — the latency of every later finding.
 *
 * Written here, not taken from a library: an ordered chain of promises per partition and a count.
 */
import type { Logger } from 'pino';

interface PartitionChain {
  /** resolves (never rejects) with whether every piece so far is done */
  tail: Promise<boolean>;
  /** pieces not settled yet */
  unsettled: number;
  /** the busy parts not over yet (they end in any order) */
  busy: Set<Promise<unknown>>;
}

export type MarkOffset = (topic: string, partition: number, next: string) => void;

const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class PartitionSettler {
  readonly #chains = new Map<string, PartitionChain>();
  readonly #maxBusy: number;
  readonly #mark: MarkOffset;
  readonly #log: Logger;

  /** `mark` is called in offset order per partition with the offset after each done piece. */
  constructor(options: { maxBusy: number; mark: MarkOffset; log: Logger }) {
    if (!(options.maxBusy >= 1)) throw new RangeError('maxBusy must be at least 1');
    this.#maxBusy = options.maxBusy;
    this.#mark = options.mark;
    this.#log = options.log;
  }

  /**
   * A piece up to `next` (the offset after its last message): `done` resolves with whether its
   * offset may be committed (false: nothing to commit, the later pieces still may), or rejects when
   * its writes failed (then nothing of the partition after it is marked). Until `busy` (a part of
   * `done`) is over, the piece counts against the partition's room.
   */
  add(topic: string, partition: number, next: string, done: Promise<boolean>, busy?: Promise<unknown>): void {
    const key = keyOf(topic, partition);
    let chain = this.#chains.get(key);
    if (chain === undefined) {
      chain = { tail: Promise.resolve(true), unsettled: 0, busy: new Set() };
      this.#chains.set(key, chain);
    }
    const current = chain;
    const previous = current.tail;
    current.unsettled++;
    current.tail = (async () => {
      let commit: boolean;
      try {
        commit = await done;
      } catch (err) {
        this.#log.warn(
          { topic, partition, next, err: (err as Error).message },
          'batch not stored or its detections not written; its offsets and the partition’s later ones stay uncommitted',
        );
        await previous;
        current.unsettled--;
        return false;
      }
      const allBefore = await previous;
      current.unsettled--;
      // Revoked meanwhile (forget): the next owner commits its own progress.
      if (allBefore && commit && this.#chains.get(key) === current) this.#mark(topic, partition, next);
      return allBefore;
    })();
    if (busy !== undefined) {
      const over: Promise<void> = busy.then(
        () => void current.busy.delete(over),
        () => void current.busy.delete(over),
      );
      current.busy.add(over);
    }
  }

  /** Resolves once the partition has room for another piece (fewer than maxBusy pieces busy). */
  async room(topic: string, partition: number): Promise<void> {
    const chain = this.#chains.get(keyOf(topic, partition));
    while (chain !== undefined && chain.busy.size >= this.#maxBusy) await Promise.race(chain.busy);
  }

  /** Pieces not settled yet, of every partition. */
  get unsettled(): number {
    let n = 0;
    for (const chain of this.#chains.values()) n += chain.unsettled;
    return n;
  }

  /** Forgets the partitions `keep` says are no longer ours: their pending pieces mark nothing. */
  forget(keep: (topic: string, partition: number) => boolean): void {
    for (const key of [...this.#chains.keys()]) {
      const [topic = '', partition = '0'] = key.split('\u0000');
      if (!keep(topic, Number(partition))) this.#chains.delete(key);
    }
  }

  /** Waits (up to `timeoutMs`) until every piece added so far is settled. */
  async settled(timeoutMs: number): Promise<boolean> {
    const all = Promise.all([...this.#chains.values()].map((c) => c.tail)).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([all, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
