/**
 * The Kafka door: a consumer group on the configured topics. Each fetched batch is validated and
 * enriched, handed to the batcher, and its offsets are committed only after ClickHouse stored the
 * rows. When the buffer is full (ClickHouse slow or down) the batch waits, heartbeating, so the
 * consumer stops fetching and memory stays bounded.
 */

import type { Logger } from 'pino';
import {
  type Consumer,
  createConsumer,
  type EachBatchPayload,
  type Kafka,
} from '../../platform/kafka/client.ts';
import { OffsetCommitter } from '../../platform/kafka/offset-committer.ts';
import { forEachInSlices } from '../../platform/slices.ts';
import { cut } from '../../platform/text.ts';
import type { Metrics } from '../metrics.ts';
import type { Batcher } from '../pipeline/batcher.ts';
import { reporterFromHeaders } from '../pipeline/reporter-headers.ts';
import type { DeadLetterRow, EventRow } from '../pipeline/rows.ts';
import type { Stage } from '../pipeline/stage.ts';
import type { NormalizedEvent } from '../pipeline/validate.ts';
import type { DeadLetterTopic } from '../sink/dead-letter-topic.ts';

/** What the source consumes and how: the ingest's topics and group, Kafka's session and partitions. */
export interface KafkaSourceOptions {
  groupId: string;
  topics: string[];
  sessionTimeoutMs: number;
  /** partitions consumed at once */
  topicPartitions: number;
}

export class KafkaSource {
  readonly #consumer: Consumer;
  readonly #committer: OffsetCommitter;
  #joined = false;

  private readonly config: KafkaSourceOptions;
  private readonly stage: Stage;
  private readonly batcher: Batcher;
  private readonly deadLetterTopic: DeadLetterTopic;
  private readonly metrics: Metrics;
  private readonly log: Logger;

  constructor(
    kafka: Kafka,
    config: KafkaSourceOptions,
    stage: Stage,
    batcher: Batcher,
    deadLetterTopic: DeadLetterTopic,
    metrics: Metrics,
    log: Logger,
  ) {
    this.config = config;
    this.stage = stage;
    this.batcher = batcher;
    this.deadLetterTopic = deadLetterTopic;
    this.metrics = metrics;
    this.log = log;
    this.#consumer = createConsumer(kafka, config.groupId, config.sessionTimeoutMs);
    this.#committer = new OffsetCommitter(this.#consumer, log);
    const { GROUP_JOIN, CRASH, DISCONNECT } = this.#consumer.events;
    this.#consumer.on(GROUP_JOIN, (e) => {
      this.#joined = true;
      this.log.info(
        { groupId: config.groupId, assignment: e.payload.memberAssignment },
        'joined consumer group',
      );
    });
    this.#consumer.on(CRASH, (e) => {
      this.#joined = false;
      this.log.error({ err: e.payload.error.message, restart: e.payload.restart }, 'Kafka consumer crashed');
    });
    this.#consumer.on(DISCONNECT, () => {
      this.#joined = false;
    });
  }

  /** Ready: connected and a member of the group. */
  get ready(): boolean {
    return this.#joined;
  }

  async start(): Promise<void> {
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topics: this.config.topics, fromBeginning: true });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: Math.max(1, this.config.topicPartitions),
      eachBatch: (payload) => this.#onBatch(payload),
    });
  }

  async #onBatch({ batch, heartbeat }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    if (batch.messages.length === 0) return;
    const receivedMs = Date.now();
    const valid: NormalizedEvent[] = [];
    const deadLetters: DeadLetterRow[] = [];
    // A fetch can hold thousands of messages: validated in slices shared with all other work.
    await forEachInSlices(batch.messages, (m) => {
      const text = m.value?.toString('utf8') ?? '';
      const reporter = reporterFromHeaders(m.headers);
      const result = this.stage.validateText(text, { nowMs: receivedMs, ...(reporter ? { reporter } : {}) });
      if (result.ok) {
        valid.push(result.event);
        return;
      }
      const origin = `${topic}/${partition}/${m.offset}`;
      deadLetters.push(
        this.stage.deadLetter({
          door: 'kafka',
          tenant: cut(m.key?.toString('utf8').split(':', 1)[0] ?? '', 64),
          origin,
          letterId: `kafka:${origin}`,
          eventIndex: -1,
          error: result.error,
          payload: text,
          receivedMs,
        }),
      );
    });
    const events = await this.stage.enrichAll(valid, receivedMs, 'kafka', deadLetters);
    this.metrics.received.inc({ door: 'kafka' }, batch.messages.length);
    this.metrics.consumerLag.set({ topic, partition: String(partition) }, Number(batch.offsetLag()));

    const { stored } = await this.#submit(events, deadLetters, heartbeat);
    const next = (BigInt(batch.lastOffset()) + 1n).toString();
    stored.then(
      () => {
        this.#committer.mark(topic, partition, next);
        return this.deadLetterTopic.publish(deadLetters);
      },
      (err: Error) =>
        this.log.warn(
          { topic, partition, err: err.message },
          'batch not stored; its offsets stay uncommitted',
        ),
    );
  }

  /** Hands rows to the batcher, waiting (and heartbeating) while the buffer is full. */
  async #submit(
    events: EventRow[],
    deadLetters: DeadLetterRow[],
    heartbeat: () => Promise<void>,
  ): Promise<{ stored: Promise<void> }> {
    const rows = events.length + deadLetters.length;
    for (;;) {
      await this.batcher.waitForRoom(rows, heartbeat);
      const stored = this.batcher.trySubmit(events, deadLetters);
      if (stored !== undefined) return { stored };
    }
  }

  /** Stops fetching (call while the batcher closes, so a batch waiting for room is released). */
  async stopFetching(): Promise<void> {
    await this.#consumer.stop();
  }

  /** Commits what the batcher stored and leaves the group. */
  async disconnect(): Promise<void> {
    await this.#committer.drain();
    await this.#consumer.disconnect();
  }
}
