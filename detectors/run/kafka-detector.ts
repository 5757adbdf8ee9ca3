/**
 * The detectors' Kafka source: a consumer group of its own on the events topics. Events are keyed
 * by tenant:subject, so each member's state covers exactly the subjects of its partitions.
 *
 * On assignment, new partitions are paused while their state is rebuilt: stored events of their
 * subjects are read from ClickHouse (warm-up: state only), then the partition is re-read from
 * `overlap` seconds before the join (events ingest may not have stored yet), in warm-up up to the
 * group's committed offset and live after it. Revoked partitions' subjects are forgotten.
 * Offsets are committed only after a batch's detections are stored and published.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { Metrics } from '../../ingest/metrics.ts';
import { reporterFromHeaders } from '../../ingest/pipeline/reporter-headers.ts';
import type { Stage } from '../../ingest/pipeline/stage.ts';
import {
  type Consumer,
  createConsumer,
  type EachBatchPayload,
  type Kafka,
  partitionCounts,
  partitionOfKey,
  partitionStarts,
} from '../../platform/kafka/client.ts';
import { OffsetCommitter } from '../../platform/kafka/offset-committer.ts';
import { forEachInSlices } from '../../platform/slices.ts';
import type { Detection } from '../detection.ts';
import { readHistory } from './history.ts';
import type { DetectionOutputs } from './outputs.ts';
import type { DetectorRuntime, Mode } from './runtime.ts';

export interface KafkaDetectorOptions {
  groupId: string;
  topics: string[];
  sessionTimeoutMs: number;
  partitionsConsumedConcurrently: number;
  /** seconds of the topic re-read before the join */
  overlapSeconds: number;
  database: string;
  /** history to read on assignment (seconds back from now) */
  familyLookbackS: number;
  tokenLookbackS: number;
}

const tp = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** Awaits `work`, heartbeating every 2 s so a long wait does not cost the group membership. */
async function withHeartbeat<T>(work: Promise<T>, heartbeat: () => Promise<void>): Promise<T> {
  const timer = setInterval(() => heartbeat().catch(() => undefined), 2000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

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
  private readonly metrics: Metrics;
  private readonly log: Logger;

  constructor(
    kafka: Kafka,
    options: KafkaDetectorOptions,
    clickhouse: ClickHouseClient,
    stage: Stage,
    runtime: DetectorRuntime,
    outputs: DetectionOutputs,
    metrics: Metrics,
    log: Logger,
  ) {
    this.kafka = kafka;
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
    await this.#consumer.subscribe({ topics: this.options.topics, fromBeginning: true });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently,
      eachBatch: (payload) => this.#onBatch(payload),
    });
  }

  /** Whether this member owns the subject's partition (in every consumed topic it appears in). */
  #owns(tenant: string, subject: string, among: Set<string>): boolean {
    const key = `${tenant}:${subject}`;
    for (const topic of this.options.topics) {
      const n = this.#counts.get(topic);
      if (n !== undefined && among.has(tp(topic, partitionOfKey(key, n)))) return true;
    }
    return false;
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
      this.log.info(
        { revoked: revoked.length, droppedSubjects: dropped },
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
    this.#counts = await partitionCounts(this.kafka, this.options.topics);
    const nowS = Math.floor(joinedAt / 1000);
    const { read, kept } = await readHistory(
      this.clickhouse,
      this.options.database,
      { familiesFromS: nowS - this.options.familyLookbackS, tokensFromS: nowS - this.options.tokenLookbackS },
      (e) => this.runtime.process(e, 'warmup'),
      {
        keep: (tenant, subject) =>
          this.#owns(tenant, subject, added) && this.#owns(tenant, subject, this.#owned),
        log: this.log,
      },
    );
    this.metrics.detectorEvents.inc({ mode: 'warmup' }, kept);
    for (const [topic, partitions] of byTopic) {
      const starts = await partitionStarts(
        this.kafka,
        this.options.groupId,
        topic,
        joinedAt - this.options.overlapSeconds * 1000,
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
        storedEventsRead: read,
        kept,
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
    const liveFrom = this.#liveFrom.get(k);
    const detections: Detection[] = [];
    let live = 0;
    let warm = 0;
    const receivedMs = Date.now();
    // A fetch can hold thousands of messages: run in slices shared with all other work.
    await forEachInSlices(batch.messages, (m) => {
      const mode: Mode = liveFrom !== undefined && BigInt(m.offset) < liveFrom ? 'warmup' : 'live';
      if (mode === 'live') live++;
      else warm++;
      const reporter = reporterFromHeaders(m.headers);
      const result = this.stage.validateText(m.value?.toString('utf8') ?? '', {
        nowMs: receivedMs,
        ...(reporter !== undefined ? { reporter } : {}),
      });
      if (!result.ok) return; // ingest dead-letters it; detectors have nothing to learn from it
      const found = this.runtime.process(this.stage.enrich(result.event, receivedMs), mode);
      if (found.length > 0) detections.push(...found);
    });
    if (live > 0) this.metrics.detectorEvents.inc({ mode: 'live' }, live);
    if (warm > 0) this.metrics.detectorEvents.inc({ mode: 'warmup' }, warm);
    const next = BigInt(batch.lastOffset()) + 1n;
    if (liveFrom !== undefined && next >= liveFrom) this.#liveFrom.delete(k);
    await withHeartbeat(this.outputs.write(detections), heartbeat);
    // Offsets before liveFrom were committed already; never commit backwards.
    if (liveFrom === undefined || next > liveFrom) this.#committer.mark(topic, partition, next.toString());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#consumer.stop();
    await this.#committer.drain();
    await this.#consumer.disconnect();
  }
}
