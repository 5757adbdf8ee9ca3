/**
 * The detectors' Kafka source: a consumer group of its own on the events topics and on its address
 * topic. Events are keyed by tenant:subject, so each member's subject state covers exactly the
 * subjects of its partitions; what per-source-IP state reads is re-keyed by tenant:ip onto the
 * address topic, so each address's state has one owner too (address.ts).
 *
 * Every message is checked against its body: one on a partition its key (`tenant:subject`, or
 * `tenant:ip` on the address topic) does not put it on — a null key, a wrong key, another
 * partitioner — is not run here but published again to the same topic with the right key (marked,
 * so a copy misplaced again is dead-lettered instead of bouncing), and counted. The check is on the
 * partition (murmur2 of the body's key), not on the key alone: the right key hashed by librdkafka's
 * CRC32 still puts a subject where its owner is not (README, "Scale-out").
 *
 * On assignment, new partitions are paused while their state is rebuilt: stored events of the new
 * partitions' subjects are read from ClickHouse (warm-up: state only), then each partition is
 * re-read from `overlap` seconds before the join (events ingest may not have stored yet; the address
 * topic from its state's longest window, and never from ClickHouse), in warm-up up to the group's
 * committed offset and live after it. Revoked partitions' subjects and addresses are forgotten.
 * Offsets are committed only after a batch's detections are stored and published, and what it
 * re-keyed or re-routed is acknowledged by Kafka.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { Metrics } from '../../ingest/metrics.ts';
import { type KafkaTrust, kafkaOrigin } from '../../ingest/pipeline/kafka-origin.ts';
import { reporterHeaders } from '../../ingest/pipeline/reporter-headers.ts';
import type { DeadLetterRow } from '../../ingest/pipeline/rows.ts';
import type { Stage } from '../../ingest/pipeline/stage.ts';
import {
  type Consumer,
  createConsumer,
  type EachBatchPayload,
  type Kafka,
  type OutgoingMessage,
  type Producer,
  partitionCounts,
  partitionOfKey,
  partitionStarts,
  sendChunked,
} from '../../platform/kafka/client.ts';
import { withHeartbeat } from '../../platform/kafka/heartbeat.ts';
import { addressKey, eventKey, misrouting, REROUTED_HEADER } from '../../platform/kafka/keys.ts';
import { OffsetCommitter } from '../../platform/kafka/offset-committer.ts';
import { keepTrying } from '../../platform/keep-trying.ts';
import { forEachInSlices } from '../../platform/slices.ts';
import type { Detection } from '../detection.ts';
import { readHistory } from './history.ts';
import type { DetectionOutputs } from './outputs.ts';
import type { DetectorRuntime, Mode } from './runtime.ts';

/** Where the dead letters of copies misplaced twice go (the ingest's dead-letter store). */
export interface DeadLetterSink {
  insert(rows: DeadLetterRow[]): Promise<void>;
}

export interface KafkaDetectorOptions {
  groupId: string;
  /** the events topics (keyed tenant:subject) */
  topics: string[];
  /** the detectors' own topic of events keyed tenant:ip */
  addressTopic: string;
  /** seconds of the address topic re-read on assignment: the longest window of per-address state */
  addressLookbackS: number;
  /** cap of the backoff between retries of a failed publish */
  retryMaxBackoffMs: number;
  sessionTimeoutMs: number;
  partitionsConsumedConcurrently: number;
  /** seconds of the topic re-read before the join */
  overlapSeconds: number;
  database: string;
  /** history to read on assignment (seconds back from now) */
  familyLookbackS: number;
  tokenLookbackS: number;
  /** whose reporter headers are believed (the relay's secret) */
  trust: KafkaTrust;
}

const tp = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class KafkaDetector {
  readonly #consumer: Consumer;
  readonly #committer: OffsetCommitter;
  /** topic\0partition owned by this member */
  #owned = new Set<string>();
  /** partitions still being prepared (paused until ready) */
  readonly #preparing = new Set<string>();
  /** the first live offset per partition: before it, events only rebuild state */
  readonly #liveFrom = new Map<string, bigint>();
  #counts = new Map<string, number>();
  #joined = false;
  #stopped = false;

  private readonly kafka: Kafka;
  private readonly options: KafkaDetectorOptions;
  private readonly clickhouse: ClickHouseClient;
  private readonly stage: Stage;
  private readonly runtime: DetectorRuntime;
  private readonly outputs: DetectionOutputs;
  private readonly producer: Producer;
  private readonly deadLetters: DeadLetterSink;
  private readonly metrics: Metrics;
  private readonly log: Logger;

  constructor(
    kafka: Kafka,
    options: KafkaDetectorOptions,
    clickhouse: ClickHouseClient,
    stage: Stage,
    runtime: DetectorRuntime,
    outputs: DetectionOutputs,
    io: { producer: Producer; deadLetters: DeadLetterSink },
    metrics: Metrics,
    log: Logger,
  ) {
    this.kafka = kafka;
    this.producer = io.producer;
    this.deadLetters = io.deadLetters;
    this.options = options;
    this.clickhouse = clickhouse;
    this.stage = stage;
    this.runtime = runtime;
    this.outputs = outputs;
    this.metrics = metrics;
    this.log = log;
    this.#consumer = createConsumer(kafka, options.groupId, options.sessionTimeoutMs);
    this.#committer = new OffsetCommitter(this.#consumer, log);
    const { GROUP_JOIN, CRASH, DISCONNECT } = this.#consumer.events;
    this.#consumer.on(GROUP_JOIN, (e) => this.#onAssignment(e.payload.memberAssignment));
    this.#consumer.on(CRASH, (e) => {
      this.#joined = false;
      this.log.error(
        { err: e.payload.error.message, restart: e.payload.restart },
        'detector consumer crashed',
      );
    });
    this.#consumer.on(DISCONNECT, () => {
      this.#joined = false;
    });
  }

  /** Ready: a member of the group, with the state of every owned partition rebuilt. */
  get ready(): boolean {
    return this.#joined && this.#preparing.size === 0;
  }

  async start(): Promise<void> {
    // Partition counts are read when partitions are prepared (they may change between assignments).
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topics: this.#allTopics(), fromBeginning: true });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently,
      eachBatch: (payload) => this.#onBatch(payload),
    });
  }

  #allTopics(): string[] {
    return [...new Set([...this.options.topics, this.options.addressTopic])];
  }

  #isAddressTopic(topic: string): boolean {
    return topic === this.options.addressTopic && !this.options.topics.includes(topic);
  }

  /** Whether this member owns the subject's partition (in any events topic). */
  #owns(tenant: string, subject: string, among: Set<string>): boolean {
    const key = eventKey(tenant, subject);
    for (const topic of this.options.topics) {
      const n = this.#counts.get(topic);
      if (n !== undefined && among.has(tp(topic, partitionOfKey(key, n)))) return true;
    }
    return false;
  }

  /** Whether this member owns the address's partition of the address topic. */
  #ownsAddress(tenant: string, ip: string, among: Set<string>): boolean {
    const topic = this.options.addressTopic;
    const n = this.#counts.get(topic);
    return n !== undefined && among.has(tp(topic, partitionOfKey(addressKey(tenant, ip), n)));
  }

  /**
   * The new events partitions as the history query takes them: partition count → partitions, the
   * partitions of every events topic with that count that were added and are still owned.
   */
  #historyPartitions(added: Set<string>): Map<number, number[]> {
    const byCount = new Map<number, number[]>();
    for (const k of added) {
      const [topic = '', p = '0'] = k.split('\u0000');
      const n = this.#counts.get(topic);
      if (this.#isAddressTopic(topic) || n === undefined || !this.#owned.has(k)) continue;
      byCount.set(n, [...(byCount.get(n) ?? []), Number(p)]);
    }
    return byCount;
  }

  #onAssignment(assignment: Record<string, number[]>) {
    const owned = new Set(Object.entries(assignment).flatMap(([topic, ps]) => ps.map((p) => tp(topic, p))));
    const added = [...owned].filter((k) => !this.#owned.has(k));
    const revoked = [...this.#owned].filter((k) => !owned.has(k));
    this.#owned = owned;
    this.#joined = true;
    for (const k of revoked) {
      this.#liveFrom.delete(k);
      this.#preparing.delete(k);
    }
    if (revoked.length > 0) {
      const dropped = this.runtime.forget((tenant, subject) => this.#owns(tenant, subject, owned));
      const droppedSources = this.runtime.forgetSources((tenant, ip) => this.#ownsAddress(tenant, ip, owned));
      this.log.info(
        { revoked: revoked.length, droppedSubjects: dropped, droppedSources },
        'partitions revoked: their state forgotten',
      );
    }
    this.log.info(
      { groupId: this.options.groupId, assignment, added: added.length },
      'detector joined consumer group',
    );
    if (added.length === 0) return;
    for (const k of added) this.#preparing.add(k);
    const byTopic = new Map<string, number[]>();
    for (const k of added) {
      const [topic = '', p = '0'] = k.split('\u0000');
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), Number(p)]);
    }
    this.#consumer.pause([...byTopic].map(([topic, partitions]) => ({ topic, partitions })));
    void this.#prepareUntilDone(new Set(added), byTopic, Date.now());
  }

  /**
   * Prepares the new partitions, retrying with backoff while ClickHouse or Kafka fail (the
   * partitions stay paused, the member keeps heartbeating). Re-reading what a failed attempt
   * already applied is harmless: detectors take a repeated event as one.
   */
  async #prepareUntilDone(added: Set<string>, byTopic: Map<string, number[]>, joinedAt: number) {
    for (let attempt = 1; !this.#stopped; attempt++) {
      try {
        await this.#prepare(added, byTopic, joinedAt);
        return;
      } catch (err) {
        if (![...added].some((k) => this.#preparing.has(k))) return; // revoked meanwhile
        const retryInMs = Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5));
        this.log.error(
          { err: (err as Error).message, attempt, retryInMs, partitions: added.size },
          'rebuilding detector state failed; the partitions stay paused until it succeeds',
        );
        await new Promise((r) => setTimeout(r, retryInMs));
      }
    }
  }

  async #prepare(added: Set<string>, byTopic: Map<string, number[]>, joinedAt: number) {
    const started = Date.now();
    this.#counts = await partitionCounts(this.kafka, this.#allTopics());
    const nowS = Math.floor(joinedAt / 1000);
    // Subject state from ClickHouse, of the new partitions' subjects only; address state comes from
    // the address topic alone (below).
    const partitions = this.#historyPartitions(added);
    const { read, kept, queryId, ms } =
      partitions.size === 0
        ? { read: 0, kept: 0, queryId: '', ms: 0 }
        : await readHistory(
            this.clickhouse,
            this.options.database,
            {
              familiesFromS: nowS - this.options.familyLookbackS,
              tokensFromS: nowS - this.options.tokenLookbackS,
              partitions,
            },
            (e) => this.runtime.process(e, 'warmup', 'subject'),
            {
              keep: (tenant, subject) =>
                this.#owns(tenant, subject, added) && this.#owns(tenant, subject, this.#owned),
              log: this.log,
            },
          );
    this.metrics.detectorEvents.inc({ mode: 'warmup' }, kept);
    for (const [topic, partitions] of byTopic) {
      const lookbackS = this.#isAddressTopic(topic)
        ? Math.max(this.options.overlapSeconds, this.options.addressLookbackS)
        : this.options.overlapSeconds;
      const starts = await partitionStarts(
        this.kafka,
        this.options.groupId,
        topic,
        joinedAt - lookbackS * 1000,
      );
      const ready: number[] = [];
      for (const partition of partitions) {
        const k = tp(topic, partition);
        if (!this.#owned.has(k) || !this.#preparing.has(k)) continue; // revoked, or done by an earlier attempt
        const s = starts.get(partition);
        if (s === undefined) continue;
        const from = s.committed === undefined || s.atTime < s.committed ? s.atTime : s.committed;
        // Before the committed offset, events were processed (and reported) by whoever owned the
        // partition: re-read for state only. Without a committed offset everything is new.
        if (s.committed !== undefined && s.committed > from) this.#liveFrom.set(k, s.committed);
        this.#consumer.seek({ topic, partition, offset: from.toString() });
        this.#preparing.delete(k);
        ready.push(partition);
      }
      if (ready.length > 0) this.#consumer.resume([{ topic, partitions: ready }]);
    }
    this.metrics.rebuildSeconds.observe((Date.now() - started) / 1000);
    this.log.info(
      {
        partitions: added.size,
        historyPartitions: Object.fromEntries(partitions),
        storedEventsRead: read,
        kept,
        historyMs: ms,
        // system.query_log's row of this id: the rows and bytes ClickHouse scanned for the rebuild
        historyQueryId: queryId,
        seconds: (Date.now() - started) / 1000,
        state: this.runtime.stats,
      },
      'detector state rebuilt',
    );
  }

  async #onBatch({ batch, heartbeat, isStale }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const k = tp(topic, partition);
    if (batch.messages.length === 0 || isStale() || this.#preparing.has(k) || !this.#owned.has(k)) return;
    this.metrics.detectorLag.set({ topic, partition: String(partition) }, Number(batch.offsetLag()));
    const byAddress = this.#isAddressTopic(topic);
    const partitions = this.#counts.get(topic);
    const liveFrom = this.#liveFrom.get(k);
    const detections: Detection[] = [];
    const forwards: OutgoingMessage[] = [];
    const reroutes: OutgoingMessage[] = [];
    const letters: DeadLetterRow[] = [];
    let live = 0;
    let warm = 0;
    const receivedMs = Date.now();
    // A fetch can hold thousands of messages: run in slices shared with all other work.
    await forEachInSlices(batch.messages, (m) => {
      const mode: Mode = liveFrom !== undefined && BigInt(m.offset) < liveFrom ? 'warmup' : 'live';
      if (mode === 'live') live++;
      else warm++;
      const text = m.value?.toString('utf8') ?? '';
      const from = kafkaOrigin(topic, m, this.options.trust);
      if (!from.ok) return; // ingest dead-letters it (unverified_reporter)
      const result = this.stage.validateText(text, { nowMs: receivedMs, ...from.ctx });
      if (!result.ok) return; // ingest dead-letters it; detectors have nothing to learn from it
      // A copy sent on (re-routed, or to its address's owner) keeps who reported it, signed again.
      const relayed = reporterHeaders(from.ctx.reporter, text, this.options.trust.relaySecret);
      const e = result.event;
      const key = byAddress ? addressKey(e.tenant, e.ip) : eventKey(e.tenant, e.subject);
      const cause =
        partitions === undefined
          ? undefined
          : misrouting({ key: m.key?.toString('utf8'), partition }, key, partitions);
      if (cause !== undefined) {
        // Not its subject's (address's) owner: never fed here. Re-read in warm-up, it was re-routed
        // by whoever read it live.
        if (mode === 'warmup') return;
        const origin = `${topic}/${partition}/${m.offset}`;
        if (m.headers?.[REROUTED_HEADER] === undefined) {
          reroutes.push({ key, value: text, headers: { ...relayed, [REROUTED_HEADER]: origin } });
          this.metrics.misrouted.inc({ action: 'rerouted', cause });
        } else {
          letters.push(this.#misroutedLetter(e.tenant, origin, text, cause, partitions ?? 0, receivedMs));
          this.metrics.misrouted.inc({ action: 'dead_lettered', cause });
        }
        return;
      }
      const input = this.stage.enrich(e, receivedMs);
      const found = this.runtime.process(input, mode, byAddress ? 'source' : 'subject');
      if (found.length > 0) detections.push(...found);
      // What per-address state reads goes to its address's owner (re-read in warm-up: sent already).
      if (!byAddress && mode === 'live' && this.runtime.readsSource(input))
        forwards.push({
          key: addressKey(e.tenant, e.ip),
          value: text,
          ...(relayed ? { headers: relayed } : {}),
        });
    });
    const counter = byAddress ? this.metrics.addressEvents : this.metrics.detectorEvents;
    if (live > 0) counter.inc({ mode: 'live' }, live);
    if (warm > 0) counter.inc({ mode: 'warmup' }, warm);
    if (forwards.length > 0) this.metrics.addressForwarded.inc(forwards.length);
    if (reroutes.length > 0 || letters.length > 0)
      this.log.warn(
        { topic, partition, rerouted: reroutes.length, deadLettered: letters.length },
        'events on a partition their key does not put them on (tokenwatch_misrouted_events_total): check the producers’ keys and partitioner',
      );
    const next = BigInt(batch.lastOffset()) + 1n;
    if (liveFrom !== undefined && next >= liveFrom) this.#liveFrom.delete(k);
    await withHeartbeat(
      Promise.all([
        this.outputs.write(detections),
        this.#publish(this.options.addressTopic, forwards),
        this.#publish(topic, reroutes),
        this.#storeLetters(letters),
      ]),
      heartbeat,
    );
    // Offsets before liveFrom were committed already; never commit backwards.
    if (liveFrom === undefined || next > liveFrom) this.#committer.mark(topic, partition, next.toString());
  }

  /** Publishes until Kafka acknowledges (the batch's offsets wait for it). */
  async #publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await keepTrying(() => sendChunked(this.producer, topic, messages), {
      what: `events re-keyed onto ${topic}`,
      context: { topic, messages: messages.length },
      log: this.log,
      closing: () => this.#stopped,
      baseBackoffMs: 200,
      maxBackoffMs: this.options.retryMaxBackoffMs,
    });
  }

  async #storeLetters(rows: DeadLetterRow[]): Promise<void> {
    if (rows.length === 0) return;
    await keepTrying(() => this.deadLetters.insert(rows), {
      what: 'dead letters of misrouted events',
      context: { letters: rows.length },
      log: this.log,
      closing: () => this.#stopped,
      baseBackoffMs: 200,
      maxBackoffMs: this.options.retryMaxBackoffMs,
    });
  }

  /** A re-routed copy misplaced again: a dead letter (stable id: a redelivery stores it once). */
  #misroutedLetter(
    tenant: string,
    origin: string,
    payload: string,
    cause: string,
    partitions: number,
    receivedMs: number,
  ): DeadLetterRow {
    return this.stage.deadLetter({
      door: 'kafka',
      tenant,
      origin,
      letterId: `misrouted:${origin}`,
      eventIndex: -1,
      error: {
        code: 'misrouted',
        message: `re-routed once already and on the wrong partition again (${cause}, ${partitions} partitions): stored, but the detectors did not run on it`,
      },
      payload,
      receivedMs,
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#consumer.stop();
    await this.#committer.drain();
    await this.#consumer.disconnect();
  }
}
