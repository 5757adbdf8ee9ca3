/** Publishes dead letters on the dead-letter topic (after they are stored in ClickHouse). */
import type { Logger } from 'pino';
import { type OutgoingMessage, type Producer, sendChunked } from '../../platform/kafka/client.ts';
import { forEachInSlices } from '../../platform/slices.ts';
import type { DeadLetterRow } from '../pipeline/rows.ts';

export class DeadLetterTopic {
  private readonly producer: Producer;
  private readonly topic: string;
  private readonly log: Logger;

  constructor(producer: Producer, topic: string, log: Logger) {
    this.producer = producer;
    this.topic = topic;
    this.log = log;
  }

  /** Best effort: the ClickHouse dead_letters table is the record; a failed publish is logged. */
  async publish(rows: DeadLetterRow[]): Promise<void> {
    if (rows.length === 0) return;
    try {
      const messages: OutgoingMessage[] = [];
      await forEachInSlices(rows, (r) => {
        messages.push({ key: r.tenant, value: JSON.stringify(r) });
      });
      await sendChunked(this.producer, this.topic, messages);
    } catch (err) {
      this.log.error(
        { err: (err as Error).message, topic: this.topic, count: rows.length },
        'could not publish dead letters (they are stored in ClickHouse)',
      );
    }
  }
}
