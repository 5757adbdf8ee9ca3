/**
 * Commits consumer offsets once ClickHouse has stored the rows before them. Marks coalesce per
 * partition and commits are serialized, so a later offset is never overwritten by an earlier one.
 * Each commit can carry one metadata string (what a commit of this consumer vouches for).
 */
import type { Logger } from 'pino';
import type { Consumer } from './client.ts';

interface Mark {
  topic: string;
  partition: number;
  offset: string;
}

export class OffsetCommitter {
  #pending = new Map<string, Mark>();
  #running: Promise<void> | undefined;

  private readonly consumer: Consumer;
  private readonly log: Logger;
  private readonly metadata: string | null;

  constructor(consumer: Consumer, log: Logger, metadata: string | null = null) {
    this.consumer = consumer;
    this.log = log;
    this.metadata = metadata;
  }

  /** `offset` is the next offset to read (last stored + 1). */
  mark(topic: string, partition: number, offset: string) {
    const key = `${topic}\u0000${partition}`;
    const prev = this.#pending.get(key);
    if (prev === undefined || BigInt(prev.offset) < BigInt(offset))
      this.#pending.set(key, { topic, partition, offset });
    this.#running ??= this.#commitLoop().finally(() => {
      this.#running = undefined;
    });
  }

  /** Waits for the commits of everything marked so far. */
  async drain(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #commitLoop() {
    while (this.#pending.size > 0) {
      const marks = [...this.#pending.values()];
      this.#pending.clear();
      try {
        await this.consumer.commitOffsets(marks.map((m) => ({ ...m, metadata: this.metadata })));
      } catch (err) {
        // After a rebalance the partition may belong to another member, which re-reads from the
        // last committed offset; the rows it re-inserts collapse by event_id.
        this.log.warn(
          { err: (err as Error).message, marks },
          'offset commit failed; events after the last committed offset will be read again',
        );
        return;
      }
    }
  }
}
