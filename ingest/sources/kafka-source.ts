/**
 * The Kafka door: a consumer group on the configured topics. Each fetched batch is validated and
 * enriched in pieces of a few hundred messages, each piece handed to the batcher as it is done, and
 * a piece's offsets are committed only after ClickHouse stored its rows and every earlier piece of
 * its partition is done (partition-settler.ts). When the buffer is full (ClickHouse slow or down)
 * the batch waits, heartbeating, so the consumer stops fetching and memory stays bounded.
 *
 * With a tap (the detectors, kafka-tap.ts) the consumer runs in the tap's group and each validated
 * piece goes to both sinks — the batcher and the tap, which runs it at once and writes what it found
 * while the consumer goes on — and its offsets are committed once both are done (the commit says
 * so: COMMITTED_BY_BOTH); what the tap re-reads before the offset its rows are stored up to is
 * validated for it and not stored again. The tap's own topics go to it alone.
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
import { PartitionSettler } from '../../platform/kafka/partition-settler.ts';
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

type KafkaMessage = EachBatchPayload['batch']['messages'][number];

/**
 * Messages of a fetch validated and handed on at a time: a fetch can hold thousands, and the first
 * of them should not wait for the last to be validated before the detectors see them.
 */
const PIECE = 256;
/** Pieces of one partition whose detections are still being written before the consumer waits (the rows are bounded by the batcher's buffer). */
const MAX_WRITING_PIECES = 16;
/** How long a shutdown waits for the writes of pieces already taken before it commits. */
const SETTLE_ON_CLOSE_MS = 10_000;

export class KafkaSource {
  readonly #consumer: Consumer;
  readonly #committer: OffsetCommitter;
  /** the pieces whose writes go on, committed in order (partition-settler.ts) */
  readonly #settler: PartitionSettler;
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
    this.#settler = new PartitionSettler({
      maxBusy: MAX_WRITING_PIECES,
      mark: (topic, partition, next) => this.#committer.mark(topic, partition, next),
      log,
    });
    const { GROUP_JOIN, CRASH, DISCONNECT } = this.#consumer.events;
    this.#consumer.on(GROUP_JOIN, (e) => {
      this.#joined = true;
      this.#counts.clear();
      const assignment = e.payload.memberAssignment;
      this.#settler.forget((topic, partition) => assignment[topic]?.includes(partition) === true);
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
    const next = (BigInt(batch.lastOffset()) + 1n).toString();
    const { tap } = this.config;
    if (tap?.ownTopics.includes(topic)) {
      const taken = await tap.takeOwn(payload);
      if (taken !== undefined) this.#settler.add(topic, partition, next, taken.written, taken.written);
      return withHeartbeat(this.#settler.room(topic, partition), heartbeat);
    }
    const binding = this.config.trust.bindings.get(topic);
    const admitted = binding === undefined ? tap?.admit(topic, partition, isStale) : undefined;
    if (admitted?.take === false) return;
    this.metrics.consumerLag.set({ topic, partition: String(partition) }, Number(batch.offsetLag()));
    if (binding !== undefined) return this.#relay(batch, heartbeat);
    const partitions = await this.#partitionsOf(topic);
    const lastOffset = BigInt(batch.lastOffset());
    // Piece by piece: a piece's rows and detections are written while the next is validated and
    // run, and the next fetch need not wait for them (partition-settler.ts commits in order).
    for (let from = 0; from < batch.messages.length; from += PIECE) {
      if (from > 0 && isStale()) return; // rebalanced: the rest is the next owner's
      const messages = batch.messages.slice(from, from + PIECE);
      const last = from + PIECE >= batch.messages.length;
      const pieceNext = last ? next : (BigInt(messages.at(-1)!.offset) + 1n).toString();
      const lag = Number(batch.offsetLag()) + Number(lastOffset - BigInt(messages.at(-1)!.offset));
      await this.#takePiece(
        topic,
        partition,
        messages,
        pieceNext,
        lag,
        partitions,
        admitted?.storeFrom,
        heartbeat,
      );
      await withHeartbeat(this.#settler.room(topic, partition), heartbeat);
    }
  }

  /** One piece of an events batch: validated, its rows to the batcher and (with a tap) run by the tap. */
  async #takePiece(
    topic: string,
    partition: number,
    messages: KafkaMessage[],
    next: string,
    lag: number,
    partitions: number,
    storeFrom: bigint | undefined,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const { tap } = this.config;
    const receivedMs = Date.now();
    const rows: EventRow[] = [];
    const taken: ValidatedMessage[] = [];
    const deadLetters: DeadLetterRow[] = [];
    // Before storeFrom the tap re-reads what was stored already: validated for it, never stored again.
    const notAgain: DeadLetterRow[] = [];
    let received = 0;
    await forEachInSlices(messages, (m) => {
      const store = storeFrom === undefined || BigInt(m.offset) >= storeFrom;
      if (store) received++;
      const checked = this.#validate(topic, partition, m, receivedMs);
      if (!checked.ok) {
        if (store) deadLetters.push(checked.letter);
        return;
      }
      const row = this.stage.enrichOrLetter(
        checked.event,
        receivedMs,
        'kafka',
        store ? deadLetters : notAgain,
      );
      if (row === undefined) return;
      if (partitions > 0) {
        row.kafka_partition = partitionOfKey(eventKey(row.tenant, row.subject), partitions);
        row.kafka_partitions = partitions;
      }
      if (store) rows.push(row);
      if (tap !== undefined) taken.push({ message: m, text: checked.text, reporter: checked.reporter, row });
    });
    this.metrics.received.inc({ door: 'kafka' }, received);
    // Both sinks: the detectors run the piece now and write what they found meanwhile; the rows
    // wait for room in the batcher; the offsets wait for both.
    const detected =
      tap === undefined
        ? undefined
        : await tap.take({ topic, partition, next: BigInt(next), receivedMs, valid: taken, lag });
    detected?.written.catch(() => undefined); // awaited by the settler, after the rows found room
    const { stored } = await this.#submit(rows, deadLetters, heartbeat);
    const done = Promise.all([stored, detected?.written ?? true]).then(([, commit]) => {
      void this.deadLetterTopic.publish(deadLetters);
      return commit;
    });
    this.#settler.add(topic, partition, next, done, detected?.written);
  }

  /** A message checked: its origin (headers, bound topic) and its body. */
  #validate(
    topic: string,
    partition: number,
    m: KafkaMessage,
    receivedMs: number,
  ):
    | { ok: true; event: NormalizedEvent; text: string; reporter: ValidatedMessage['reporter'] }
    | { ok: false; letter: DeadLetterRow } {
    const text = m.value?.toString('utf8') ?? '';
    const from = kafkaOrigin(topic, m, this.config.trust);
    if (!from.ok) return { ok: false, letter: this.#refused(topic, partition, m, text, from, receivedMs) };
    const result = this.stage.validateText(text, { nowMs: receivedMs, ...from.ctx });
    if (!result.ok)
      return { ok: false, letter: this.#refused(topic, partition, m, text, result, receivedMs) };
    return { ok: true, event: result.event, text, reporter: from.ctx.reporter };
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
  async #relay(batch: EachBatchPayload['batch'], heartbeat: () => Promise<void>): Promise<void> {
    const { topic, partition } = batch;
    const { relay, trust } = this.config;
    const receivedMs = Date.now();
    const messages: OutgoingMessage[] = [];
    const deadLetters: DeadLetterRow[] = [];
    await forEachInSlices(batch.messages, (m) => {
      const checked = this.#validate(topic, partition, m, receivedMs);
      if (checked.ok) messages.push(relayMessage(checked.event, trust.relaySecret));
      else deadLetters.push(checked.letter);
    });
    this.metrics.received.inc({ door: 'kafka' }, batch.messages.length);
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
    const done = stored.then(() => {
      void this.deadLetterTopic.publish(deadLetters);
      return true;
    });
    this.#settler.add(topic, partition, (BigInt(batch.lastOffset()) + 1n).toString(), done);
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

  /** Commits what was stored and detected (waiting for the writes of what was taken) and leaves the group. */
  async disconnect(): Promise<void> {
    if (!(await this.#settler.settled(SETTLE_ON_CLOSE_MS)))
      this.log.warn(
        { pieces: this.#settler.unsettled, waitedMs: SETTLE_ON_CLOSE_MS },
        'rows or detections still being written at shutdown: their offsets stay uncommitted and are read again on restart',
      );
    await this.#committer.drain();
    await this.#consumer.disconnect();
  }
}
