/**
 * The detectors' side of the one Kafka consumer (a tap of the ingest's Kafka door, kafka-tap.ts): the
 * door's consumer runs in the detectors' group on the events topics and on their address topic, and
 * hands the detectors each events batch it validated (one fetch, one decode per event), and the
 * address topic's batches, theirs alone. Events are keyed by tenant:subject, so each member's
 * subject state covers exactly the subjects of its partitions; what per-source-IP state reads is
 * re-keyed by tenant:ip onto the address topic, so each address's state has one owner too
 * (address.ts).
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
 * committed offset and live after it; the door stores only what follows the offset up to which rows
 * are stored (the group's offset when its commit says COMMITTED_BY_BOTH; else, as after an upgrade
 * from separate groups, the ingest group's). Revoked partitions' subjects and addresses are
 * forgotten. The door commits only after a batch's rows and detections are stored and published,
 * and what it re-keyed or re-routed is acknowledged by Kafka.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { Metrics } from '../../ingest/metrics.ts';
import { type KafkaTrust, kafkaOrigin } from '../../ingest/pipeline/kafka-origin.ts';
import { reporterHeaders } from '../../ingest/pipeline/reporter-headers.ts';
import type { DeadLetterRow } from '../../ingest/pipeline/rows.ts';
import type { Stage } from '../../ingest/pipeline/stage.ts';
import { COMMITTED_BY_BOTH } from '../../ingest/sources/kafka-source.ts';
import type {
  KafkaTap,
  PartitionControl,
  ValidatedBatch,
  ValidatedMessage,
} from '../../ingest/sources/kafka-tap.ts';
import {
  type EachBatchPayload,
  type Kafka,
  type OutgoingMessage,
  type PartitionStart,
  type Producer,
  partitionCounts,
  partitionOfKey,
  partitionStarts,
  sendChunked,
} from '../../platform/kafka/client.ts';
import { withHeartbeat } from '../../platform/kafka/heartbeat.ts';
import { addressKey, eventKey, misrouting, REROUTED_HEADER } from '../../platform/kafka/keys.ts';
import { keepTrying } from '../../platform/keep-trying.ts';
import { forEachInSlices } from '../../platform/slices.ts';
import type { Detection } from '../detection.ts';
import { readFamiliar } from './familiar-history.ts';
import { readHistory } from './history.ts';
import type { DetectionOutputs } from './outputs.ts';
import type { DetectorRuntime, Mode } from './runtime.ts';

/** Where the dead letters of copies misplaced twice go (the ingest's dead-letter store). */
export interface DeadLetterSink {
  insert(rows: DeadLetterRow[]): Promise<void>;
}

export interface KafkaDetectorOptions {
  /** the group of the consumer the detectors tap */
  groupId: string;
  /** the ingest's group: where rows stood when the group's commit does not vouch for them */
  ingestGroupId: string;
  /** the events topics (keyed tenant:subject) */
  topics: string[];
  /** the detectors' own topic of events keyed tenant:ip */
  addressTopic: string;
  /** seconds of the address topic re-read on assignment: the longest window of per-address state */
  addressLookbackS: number;
  /** cap of the backoff between retries of a failed publish */
  retryMaxBackoffMs: number;
  /** seconds of the topic re-read before the join */
  overlapSeconds: number;
  database: string;
  /** history to read on assignment (seconds back from now) */
  familyLookbackS: number;
  tokenLookbackS: number;
  /** familiar places and networks are relearned from this far back (s; 0: not at all) */
  familiarLookbackS: number;
  /** whose reporter headers are believed (the relay's secret) */
  trust: KafkaTrust;
}

const tp = (topic: string, partition: number) => `${topic}\u0000${partition}`;

const earliest = (offsets: (bigint | undefined)[]): bigint =>
  offsets.reduce<bigint>((a, b) => (b !== undefined && b < a ? b : a), offsets[0] ?? 0n);

/**
 * Where a partition's rows are stored up to: the group's committed offset when its commit vouches
 * for the rows, else (an older version's detectors' group, or none) the ingest group's.
 */
export function storedUpTo(group: PartitionStart, ingest: PartitionStart | undefined): bigint | undefined {
  return group.committedMetadata === COMMITTED_BY_BOTH ? group.committed : ingest?.committed;
}

export class KafkaDetector implements KafkaTap {
  readonly ownTopics: readonly string[];
  #control: PartitionControl | undefined;
  /** topic\0partition owned by this member */
  #owned = new Set<string>();
  /** partitions still being prepared (paused until ready) */
  readonly #preparing = new Set<string>();
  /** the first live offset per partition: before it, events only rebuild state */
  readonly #liveFrom = new Map<string, bigint>();
  /** the first offset the door stores per events partition (before it, rows are stored already) */
  readonly #storeFrom = new Map<string, bigint>();
  /** the group's committed offset per partition at assignment: never committed backwards */
  readonly #committed = new Map<string, bigint>();
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
    this.ownTopics = options.topics.includes(options.addressTopic) ? [] : [options.addressTopic];
  }

  /** Ready: assigned, with the state of every owned partition rebuilt. */
  get ready(): boolean {
    return this.#joined && this.#preparing.size === 0;
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

  onAssignment(assignment: Record<string, number[]>, control: PartitionControl) {
    this.#control = control;
    // The door's other topics (bound producer topics, relayed) are not the detectors' business.
    const mine = new Set(this.#allTopics());
    const owned = new Set(
      Object.entries(assignment)
        .filter(([topic]) => mine.has(topic))
        .flatMap(([topic, ps]) => ps.map((p) => tp(topic, p))),
    );
    const added = [...owned].filter((k) => !this.#owned.has(k));
    const revoked = [...this.#owned].filter((k) => !owned.has(k));
    this.#owned = owned;
    this.#joined = true;
    for (const k of revoked) {
      this.#liveFrom.delete(k);
      this.#storeFrom.delete(k);
      this.#committed.delete(k);
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
    control.pause([...byTopic].map(([topic, partitions]) => ({ topic, partitions })));
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
    const keep = (tenant: string, subject: string) =>
      this.#owns(tenant, subject, added) && this.#owns(tenant, subject, this.#owned);
    const familiar =
      partitions.size === 0 || this.options.familiarLookbackS === 0
        ? { kept: 0 }
        : await readFamiliar(
            this.clickhouse,
            this.options.database,
            { fromS: nowS - this.options.familiarLookbackS, partitions },
            (row) => this.runtime.learnFamiliar(row),
            { keep, log: this.log },
          );
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
            { keep, log: this.log },
          );
    this.metrics.detectorEvents.inc({ mode: 'warmup' }, kept);
    for (const [topic, partitions] of byTopic) {
      const lookbackS = this.#isAddressTopic(topic)
        ? Math.max(this.options.overlapSeconds, this.options.addressLookbackS)
        : this.options.overlapSeconds;
      const atTime = joinedAt - lookbackS * 1000;
      const starts = await partitionStarts(this.kafka, this.options.groupId, topic, atTime);
      // Commits that do not vouch for the rows (an older version's detectors' group): the rows
      // stood where the ingest's group committed.
      const legacy = [...starts.values()].some((s) => s.committedMetadata !== COMMITTED_BY_BOTH)
        ? await partitionStarts(this.kafka, this.options.ingestGroupId, topic, atTime)
        : undefined;
      const ready: number[] = [];
      for (const partition of partitions) {
        const k = tp(topic, partition);
        if (!this.#owned.has(k) || !this.#preparing.has(k)) continue; // revoked, or done by an earlier attempt
        const s = starts.get(partition);
        if (s === undefined) continue;
        const byAddress = this.#isAddressTopic(topic);
        const stored = byAddress ? undefined : storedUpTo(s, legacy?.get(partition));
        // Before the committed offset, events were processed (and reported) by whoever owned the
        // partition: re-read for state only. Without a committed offset, what precedes the
        // overlap is history (state only) and the rest is new. The door stores from `stored` on.
        const liveFrom = s.committed ?? s.atTime;
        if (s.committed !== undefined) this.#committed.set(k, s.committed);
        // Nothing stored, nothing committed: the door stores all the log holds, the detectors run
        // live from the overlap on.
        const storeFrom = stored ?? (s.committed === undefined ? s.low : undefined);
        const from = earliest([s.atTime, s.committed, byAddress ? undefined : storeFrom]);
        if (liveFrom > from) this.#liveFrom.set(k, liveFrom);
        if (!byAddress) this.#storeFrom.set(k, storeFrom ?? from);
        this.#control?.seek({ topic, partition, offset: from.toString() });
        this.#preparing.delete(k);
        ready.push(partition);
      }
      if (ready.length > 0) this.#control?.resume([{ topic, partitions: ready }]);
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
        familiarRows: familiar.kept,
        seconds: (Date.now() - started) / 1000,
        state: this.runtime.stats,
      },
      'detector state rebuilt',
    );
  }

  admit(topic: string, partition: number, isStale: () => boolean): { take: boolean; storeFrom?: bigint } {
    const k = tp(topic, partition);
    if (isStale() || this.#preparing.has(k) || !this.#owned.has(k)) return { take: false };
    const storeFrom = this.#storeFrom.get(k);
    return storeFrom === undefined ? { take: true } : { take: true, storeFrom };
  }

  take(batch: ValidatedBatch): Promise<boolean> {
    return this.#run(batch);
  }

  /** An address topic's batch: validated here (the detectors' own copies, never stored). */
  async takeOwn({ batch, heartbeat, isStale }: EachBatchPayload): Promise<boolean> {
    const { topic, partition } = batch;
    if (!this.admit(topic, partition, isStale).take) return false;
    const receivedMs = Date.now();
    const valid: ValidatedMessage[] = [];
    await forEachInSlices(batch.messages, (m) => {
      const text = m.value?.toString('utf8') ?? '';
      const from = kafkaOrigin(topic, m, this.options.trust);
      if (!from.ok) return; // ingest dead-letters it (unverified_reporter)
      const result = this.stage.validateText(text, { nowMs: receivedMs, ...from.ctx });
      if (!result.ok) return; // ingest dead-letters it; detectors have nothing to learn from it
      valid.push({
        message: m,
        text,
        reporter: from.ctx.reporter,
        row: this.stage.enrich(result.event, receivedMs),
      });
    });
    const next = BigInt(batch.lastOffset()) + 1n;
    const run = this.#run({ topic, partition, next, receivedMs, valid, lag: Number(batch.offsetLag()) });
    return withHeartbeat(run, heartbeat);
  }

  /** Runs a batch's valid events; resolves once its detections and copies are out, with whether to commit. */
  async #run({ topic, partition, next, receivedMs, valid, lag }: ValidatedBatch): Promise<boolean> {
    const k = tp(topic, partition);
    this.metrics.detectorLag.set({ topic, partition: String(partition) }, lag);
    const byAddress = this.#isAddressTopic(topic);
    const partitions = this.#counts.get(topic);
    const liveFrom = this.#liveFrom.get(k);
    const detections: Detection[] = [];
    const forwards: OutgoingMessage[] = [];
    const reroutes: OutgoingMessage[] = [];
    const letters: DeadLetterRow[] = [];
    let live = 0;
    let warm = 0;
    // A fetch can hold thousands of messages: run in slices shared with all other work.
    await forEachInSlices(valid, ({ message: m, text, reporter, row: input }) => {
      const mode: Mode = liveFrom !== undefined && BigInt(m.offset) < liveFrom ? 'warmup' : 'live';
      if (mode === 'live') live++;
      else warm++;
      // A copy sent on (re-routed, or to its address's owner) keeps who reported it, signed again.
      const relayed = reporterHeaders(reporter, text, this.options.trust.relaySecret);
      const key = byAddress ? addressKey(input.tenant, input.ip) : eventKey(input.tenant, input.subject);
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
          letters.push(this.#misroutedLetter(input.tenant, origin, text, cause, partitions ?? 0, receivedMs));
          this.metrics.misrouted.inc({ action: 'dead_lettered', cause });
        }
        return;
      }
      const found = this.runtime.process(input, mode, byAddress ? 'source' : 'subject');
      if (found.length > 0) detections.push(...found);
      // What per-address state reads goes to its address's owner (re-read in warm-up: sent already).
      if (!byAddress && mode === 'live' && this.runtime.readsSource(input))
        forwards.push({
          key: addressKey(input.tenant, input.ip),
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
    if (liveFrom !== undefined && next >= liveFrom) this.#liveFrom.delete(k);
    await Promise.all([
      this.outputs.write(detections),
      this.#publish(this.options.addressTopic, forwards),
      this.#publish(topic, reroutes),
      this.#storeLetters(letters),
    ]);
    // Offsets before the committed one were committed already; never commit backwards.
    const committed = this.#committed.get(k);
    return committed === undefined || next > committed;
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

  /** Stops retrying what a batch sends (the door stops fetching; what was not sent stays uncommitted). */
  stop(): void {
    this.#stopped = true;
  }
}
