/**
 * Where detections go: first the response stage (which decides and records what to do about each),
 * then the ClickHouse `detections` table and the findings topic, carrying the decision. A write
 * resolves once every sink has the detections, retrying each failed sink with backoff, so the Kafka
 * detector commits its offsets only after its findings are safe; nothing is dropped while
 * tokenwatch runs.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { Metrics } from '../../ingest/metrics.ts';
import type { WriteBacklog } from '../../platform/backlog.ts';
import { insertJsonRows } from '../../platform/clickhouse/json-rows.ts';
import type { RefusedRowSink } from '../../platform/clickhouse/refusals.ts';
import { type Producer, sendChunked } from '../../platform/kafka/client.ts';
import { keepTrying } from '../../platform/keep-trying.ts';
import { type Detection, toDetectionRow } from '../detection.ts';

export interface DetectionSink {
  readonly name: string;
  write(detections: Detection[]): Promise<void>;
}

export class ClickHouseDetections implements DetectionSink {
  readonly name = 'clickhouse';
  private readonly client: ClickHouseClient;
  private readonly database: string;
  private readonly refused: RefusedRowSink;

  constructor(client: ClickHouseClient, database: string, refused: RefusedRowSink) {
    this.client = client;
    this.database = database;
    this.refused = refused;
  }

  /** Rows ClickHouse refuses are dead-lettered (never retried forever); other failures are thrown. */
  async write(detections: Detection[]): Promise<void> {
    await insertJsonRows({
      client: this.client,
      table: `${this.database}.detections`,
      rows: detections.map(toDetectionRow),
      refused: this.refused,
      by: 'detectors/run/outputs',
    });
  }
}

export class KafkaDetections implements DetectionSink {
  readonly name = 'kafka';
  private readonly producer: Producer;
  private readonly topic: string;

  constructor(producer: Producer, topic: string) {
    this.producer = producer;
    this.topic = topic;
  }

  async write(detections: Detection[]): Promise<void> {
    await sendChunked(
      this.producer,
      this.topic,
      detections.map((d) => ({ key: `${d.tenant}:${d.subject}`, value: JSON.stringify(d) })),
    );
  }
}

/** The response stage as the outputs see it (response/stage.ts). */
export interface Responder {
  decide(detections: Detection[]): Promise<Detection[]>;
}

export class DetectionOutputs {
  readonly #pending = new Set<Promise<void>>();
  #closed = false;

  private readonly sinks: DetectionSink[];
  private readonly metrics: Metrics | undefined;
  private readonly log: Logger;
  private readonly maxBackoffMs: number;
  private readonly responder: Responder | undefined;
  private readonly backlog: WriteBacklog | undefined;

  constructor(
    sinks: DetectionSink[],
    log: Logger,
    options: { metrics?: Metrics; maxBackoffMs?: number; responder?: Responder; backlog?: WriteBacklog } = {},
  ) {
    this.sinks = sinks;
    this.log = log;
    this.metrics = options.metrics;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
    this.responder = options.responder;
    this.backlog = options.backlog;
  }

  /** Resolves when every sink has the detections (retrying), or rejects when closed before. */
  write(detections: Detection[]): Promise<void> {
    if (detections.length === 0) return Promise.resolve();
    const done = (async () => {
      const decided = this.responder === undefined ? detections : await this.responder.decide(detections);
      await Promise.all(this.sinks.map((sink) => this.#writeWithRetry(sink, decided)));
    })();
    this.#pending.add(done);
    done.then(
      () => this.#pending.delete(done),
      () => this.#pending.delete(done),
    );
    return done;
  }

  #writeWithRetry(sink: DetectionSink, detections: Detection[]): Promise<void> {
    return keepTrying(() => sink.write(detections), {
      what: 'detections',
      context: { sink: sink.name, detections: detections.length },
      log: this.log,
      closing: () => this.#closed,
      baseBackoffMs: 200,
      maxBackoffMs: this.maxBackoffMs,
      onFailure: () => this.metrics?.detectionWriteFailures.inc({ sink: sink.name }),
      ...(this.backlog !== undefined ? { backlog: this.backlog } : {}),
    });
  }

  /** Waits (up to `timeoutMs`) for writes in flight; later failures are not retried. */
  async close(timeoutMs = 10_000): Promise<void> {
    const pending = Promise.allSettled([...this.#pending]);
    const timer = new Promise((r) => setTimeout(r, timeoutMs).unref());
    await Promise.race([pending, timer]);
    this.#closed = true;
    if (this.#pending.size > 0)
      this.log.error({ writes: this.#pending.size }, 'detections not stored before shutdown');
  }
}
