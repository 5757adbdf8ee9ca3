/**
 * The Kafka door: a consumer group on the configured topics. Each fetched batch is validated and
 * enriched, handed to the batcher, and its offsets are committed only after ClickHouse stored the
 * rows. When the buffer is full (ClickHouse slow or down) the batch waits, heartbeating, so the
 * consumer stops fetching and memory stays bounded.
 *
 * With a tap (the detectors, kafka-tap.ts) the consumer runs in the tap's group and each validated
 * batch goes to both sinks — the batcher and the tap — and its offsets are committed once both are
 * done (the commit says so: COMMITTED_BY_BOTH); what the tap re-reads before the offset its rows are
 * stored up to is validated for it and not stored again. The tap's own topics go to it alone.
 *
 * Each row records the partition its `tenant:subject` belongs to and the topic's partition count
 * (`kafka_partition`, `kafka_partitions`): what the detectors rebuild one partition's state from.
 * It is computed from the body, not taken from where the message was: a producer that keys or
 * partitions otherwise (the detectors re-route its messages) still files the event under the
 * partition whose owner keeps its subject's state.
 *
 * Topics bound to a producer (`TOKENWATCH_KAFKA_PRODUCER_TOPICS`) are doors, not the log: their
 * events are checked against the topic's tenant and role (refusals dead-lettered per event, as over
 * HTTP) and the accepted ones relayed to the events topic with their reporter (`topic:<name>`) in
 * signed headers — stored and detected from there, so one subject's events stay on one partition of
 * one topic whichever producer reported them. A bound topic's offsets are committed once the relay
 * is acknowledged and its dead letters stored.
 */

import type { Logger } from 'pino';
import {
  type Consumer,
  createConsumer,
  type EachBatchPayload,
  type Kafka,
  type OutgoingMessage,
  type Producer,
  partitionCounts,
  partitionOfKey,
  sendChunked,
} from '../../platform/kafka/client.ts';
import { withHeartbeat } from '../../platform/kafka/heartbeat.ts';
import { eventKey } from '../../platform/kafka/keys.ts';
import { OffsetCommitter } from '../../platform/kafka/offset-committer.ts';
import { keepTrying } from '../../platform/keep-trying.ts';
import { forEachInSlices } from '../../platform/slices.ts';
import { cut } from '../../platform/text.ts';
import type { Metrics } from '../metrics.ts';
import type { Batcher } from '../pipeline/batcher.ts';
import { type KafkaTrust, kafkaOrigin } from '../pipeline/kafka-origin.ts';
import { relayMessage } from '../pipeline/relay-message.ts';
import type { DeadLetterRow, EventRow } from '../pipeline/rows.ts';
import type { Stage } from '../pipeline/stage.ts';
import type { NormalizedEvent, ValidationResult } from '../pipeline/validate.ts';
import type { DeadLetterTopic } from '../sink/dead-letter-topic.ts';
import type { KafkaTap, ValidatedMessage } from './kafka-tap.ts';

/** What the source consumes and how: the ingest's topics and group, Kafka's session and partitions. */
export interface KafkaSourceOptions {
  /** the ingest's group; with a tap, the tap's (its commits then vouch for both: COMMITTED_BY_BOTH) */
  groupId: string;
  topics: string[];
  sessionTimeoutMs: number;
  /** partitions consumed at once */
  topicPartitions: number;
  /** the bound producers' topics (consumed besides `topics`) and the relay's secret */
  trust: KafkaTrust;
  /** where a bound topic's accepted events are relayed (the events topic), and by which producer */
  relay: { topic: string; producer: Producer; retryMaxBackoffMs: number };
  /** the second reader of the events batches (the detectors), and of its own topics */
  tap?: KafkaTap;
}

/**
 * The metadata of a commit made with a tap: the rows before it are stored and the tap is done with
 * them. A commit without it (an older version's tap group) says nothing of the rows.
 */
export const COMMITTED_BY_BOTH = 'tokenwatch:stored+detected';

export class KafkaSource {
  readonly #consumer: Consumer;
  readonly #committer: OffsetCommitter;
  /** partition counts of the consumed topics, read again after each join (they may have grown) */
  readonly #counts = new Map<string, number>();
  #joined = false;
  #stopped = false;

  private readonly kafka: Kafka;
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
    this.kafka = kafka;
    this.config = config;
    this.stage = stage;
    this.batcher = batcher;
    this.deadLetterTopic = deadLetterTopic;
    this.metrics = metrics;
    this.log = log;
    this.#consumer = createConsumer(kafka, config.groupId, config.sessionTimeoutMs);
    this.#committer = new OffsetCommitter(
      this.#consumer,
      log,
      config.tap === undefined ? null : COMMITTED_BY_BOTH,
    );
    const { GROUP_JOIN, CRASH, DISCONNECT } = this.#consumer.events;
    this.#consumer.on(GROUP_JOIN, (e) => {
      this.#joined = true;
      this.#counts.clear();
      config.tap?.onAssignment(e.payload.memberAssignment, this.#consumer);
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

  /** Ready: connected and a member of the group (with a tap: and the tap ready). */
  get ready(): boolean {
    return this.#joined && (this.config.tap?.ready ?? true);
  }

  async start(): Promise<void> {
    await this.#consumer.connect();
    // The service's start created the topics and waited until they are served (ensureTopics).
    await this.#consumer.subscribe({ topics: this.#allTopics(), fromBeginning: true });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: Math.max(1, this.config.topicPartitions),
      eachBatch: (payload) => this.#onBatch(payload),
    });
  }

  #allTopics(): string[] {
    return [
      ...new Set([
        ...this.config.topics,
        ...this.config.trust.bindings.keys(),
        ...(this.config.tap?.ownTopics ?? []),
      ]),
    ];
  }

  async #onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, isStale } = payload;
    const { topic, partition } = batch;
    if (batch.messages.length === 0) return;
    const next = BigInt(batch.lastOffset()) + 1n;
    const { tap } = this.config;
    if (tap?.ownTopics.includes(topic)) {
      if (await tap.takeOwn(payload)) this.#committer.mark(topic, partition, next.toString());
      return;
    }
    const binding = this.config.trust.bindings.get(topic);
    const admitted = binding === undefined ? tap?.admit(topic, partition, isStale) : undefined;
    if (admitted?.take === false) return;
    // Before storeFrom the tap re-reads what was stored already: validated for it, never stored again.
    const storeFrom = admitted?.storeFrom;
    const receivedMs = Date.now();
    const valid: NormalizedEvent[] = [];
    const rows: EventRow[] = [];
    const taken: ValidatedMessage[] = [];
    const deadLetters: DeadLetterRow[] = [];
    const notAgain: DeadLetterRow[] = [];
    let received = 0;
    // A fetch can hold thousands of messages: validated in slices shared with all other work.
    await forEachInSlices(batch.messages, (m) => {
      const store = storeFrom === undefined || BigInt(m.offset) >= storeFrom;
      if (store) received++;
      const text = m.value?.toString('utf8') ?? '';
      const from = kafkaOrigin(topic, m, this.config.trust);
      const result: ValidationResult = from.ok
        ? this.stage.validateText(text, { nowMs: receivedMs, ...from.ctx })
        : from;
      if (result.ok && binding !== undefined) valid.push(result.event);
      else if (result.ok && from.ok) {
        const row = this.stage.enrichOrLetter(
          result.event,
          receivedMs,
          'kafka',
          store ? deadLetters : notAgain,
        );
        if (row === undefined) return;
        if (store) rows.push(row);
        if (tap !== undefined) taken.push({ message: m, text, reporter: from.ctx.reporter, row });
      } else if (!result.ok && store)
        deadLetters.push(this.#refused(topic, partition, m, text, result, receivedMs));
    });
    this.metrics.received.inc({ door: 'kafka' }, received);
    this.metrics.consumerLag.set({ topic, partition: String(partition) }, Number(batch.offsetLag()));
    if (binding !== undefined) return this.#relay(batch, valid, deadLetters, heartbeat);
    const partitions = await this.#partitionsOf(topic);
    if (partitions > 0)
      await forEachInSlices(tap !== undefined ? taken.map((t) => t.row) : rows, (r) => {
        r.kafka_partition = partitionOfKey(eventKey(r.tenant, r.subject), partitions);
        r.kafka_partitions = partitions;
      });
    // Both sinks at once: the detectors' run, the rows' insert; the offsets wait for both.
    const detected =
      tap?.take({ topic, partition, next, receivedMs, valid: taken, lag: Number(batch.offsetLag()) }) ??
      Promise.resolve(true);
    detected.catch(() => undefined); // awaited below, after the rows found room
    const { stored } = await this.#submit(rows, deadLetters, heartbeat);
    const commit = await withHeartbeat(detected, heartbeat);
    stored.then(
      () => {
        if (commit) this.#committer.mark(topic, partition, next.toString());
        return this.deadLetterTopic.publish(deadLetters);
      },
      (err: Error) =>
        this.log.warn(
          { topic, partition, err: err.message },
          'batch not stored; its offsets stay uncommitted',
        ),
    );
  }

  /** The dead letter of a message refused before or by validation. */
  #refused(
    topic: string,
    partition: number,
    m: EachBatchPayload['batch']['messages'][number],
    text: string,
    result: Extract<ValidationResult, { ok: false }>,
    receivedMs: number,
  ): DeadLetterRow {
    const origin = `${topic}/${partition}/${m.offset}`;
    const binding = this.config.trust.bindings.get(topic);
    return this.stage.deadLetter({
      door: 'kafka',
      // a bound topic's refusals are its tenant's (whatever tenant the body or key names)
      tenant: binding?.tenant ?? cut(m.key?.toString('utf8').split(':', 1)[0] ?? '', 64),
      origin,
      letterId: `kafka:${origin}`,
      eventIndex: -1,
      error: result.error,
      payload: text,
      receivedMs,
    });
  }

  /**
   * A bound topic's batch: the accepted events relayed to the events topic (until Kafka acknowledges),
   * the refused stored as dead letters; the offsets committed after both.
   */
  async #relay(
    batch: EachBatchPayload['batch'],
    valid: NormalizedEvent[],
    deadLetters: DeadLetterRow[],
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const { topic, partition } = batch;
    const { relay, trust } = this.config;
    const messages: OutgoingMessage[] = [];
    await forEachInSlices(valid, (e) => {
      messages.push(relayMessage(e, trust.relaySecret));
    });
    if (messages.length > 0)
      await withHeartbeat(
        keepTrying(() => sendChunked(relay.producer, relay.topic, messages), {
          what: `events of producer topic ${topic} relayed to ${relay.topic}`,
          context: { topic, partition, messages: messages.length },
          log: this.log,
          closing: () => this.#stopped,
          baseBackoffMs: 200,
          maxBackoffMs: relay.retryMaxBackoffMs,
        }),
        heartbeat,
      );
    if (deadLetters.length > 0)
      this.log.warn(
        { topic, partition, refused: deadLetters.length, relayed: messages.length },
        'events refused on a bound producer topic (tokenwatch_events_rejected_total, dead letters): check that producer',
      );
    const { stored } = await this.#submit([], deadLetters, heartbeat);
    const next = (BigInt(batch.lastOffset()) + 1n).toString();
    stored.then(
      () => {
        this.#committer.mark(topic, partition, next);
        return this.deadLetterTopic.publish(deadLetters);
      },
      (err: Error) =>
        this.log.warn(
          { topic, partition, err: err.message },
          'dead letters not stored; the batch’s offsets stay uncommitted',
        ),
    );
  }

  /** The topic's partition count; 0 (not known: rows say so, and are rebuilt from all) when Kafka does not answer. */
  async #partitionsOf(topic: string): Promise<number> {
    const known = this.#counts.get(topic);
    if (known !== undefined) return known;
    try {
      for (const [t, n] of await partitionCounts(this.kafka, this.config.topics)) this.#counts.set(t, n);
    } catch (err) {
      this.log.warn(
        { topic, err: (err as Error).message },
        'could not read the partition count; this batch is stored without its partitions',
      );
      return 0;
    }
    return this.#counts.get(topic) ?? 0;
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
    this.#stopped = true;
    await this.#consumer.stop();
  }

  /** Commits what the batcher stored and leaves the group. */
  async disconnect(): Promise<void> {
    await this.#committer.drain();
    await this.#consumer.disconnect();
  }
}
