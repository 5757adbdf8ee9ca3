/**
 * The detection stage of the service: the runtime, its outputs and its source — with Kafka a tap of
 * the ingest's Kafka door (which then consumes in the detectors' group), or the in-process stream of
 * validated events in single-process mode.
 */

import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { Metrics } from '../../ingest/metrics.ts';
import type { KafkaTrust } from '../../ingest/pipeline/kafka-origin.ts';
import type { EventRow } from '../../ingest/pipeline/rows.ts';
import type { Stage } from '../../ingest/pipeline/stage.ts';
import type { KafkaTap } from '../../ingest/sources/kafka-tap.ts';
import type { WriteBacklog } from '../../platform/backlog.ts';
import type { RefusedRowSink } from '../../platform/clickhouse/refusals.ts';
import type { Kafka, Producer } from '../../platform/kafka/client.ts';
import { REGISTRY } from '../registry.ts';
import type { DetectStageSettings } from '../settings.ts';
import { buildThresholds } from '../thresholds.ts';
import { readFamiliar } from './familiar-history.ts';
import { readHistory } from './history.ts';
import { type DeadLetterSink, KafkaDetector } from './kafka-detector.ts';
import {
  ClickHouseDetections,
  DetectionOutputs,
  type DetectionSink,
  KafkaDetections,
  type Responder,
} from './outputs.ts';
import { DetectorRuntime } from './runtime.ts';

export interface DetectionStage {
  runtime: DetectorRuntime;
  outputs: DetectionOutputs;
  /** ready: state rebuilt (with Kafka: of every partition the door's consumer was assigned) */
  readonly ready: boolean;
  /** Kafka mode: what the ingest's Kafka door hands its batches to; its group is `groupId` */
  tap?: { reader: KafkaTap; groupId: string };
  /** single-process mode: validated events, as they are accepted */
  observe(rows: EventRow[]): void;
  /** shutting down: stop retrying what batches in flight send (they stay uncommitted) */
  stopping(): void;
  close(): Promise<void>;
}

export interface DetectionDeps {
  clickhouse: ClickHouseClient;
  stage: Stage;
  metrics: Metrics;
  log: Logger;
  /** Kafka mode: the client, the producer, the topics the events come on, the ingest's group */
  kafka?: {
    client: Kafka;
    producer: Producer;
    topics: string[];
    /** where rows stood for commits that do not vouch for them (before the one consumer) */
    ingestGroupId: string;
    /** where the dead letters of events misplaced twice go (the ingest's dead-letter store) */
    deadLetters: DeadLetterSink;
    /** whose reporter headers are believed (the relay's secret) */
    trust: KafkaTrust;
  };
  /** the database the detections are stored in (and history read from) */
  database: string;
  /** cap of the backoff between retries of a failed write */
  retryMaxBackoffMs: number;
  /** the response stage, which decides on each detection before it is stored */
  responder?: Responder;
  /** where rows ClickHouse refuses go (dead letters) */
  refused: RefusedRowSink;
  /** writes being retried (readiness) */
  backlog?: WriteBacklog;
}

export async function startDetection(
  config: DetectStageSettings,
  deps: DetectionDeps,
): Promise<DetectionStage> {
  const { settings } = config;
  const log = deps.log;
  const runtime = new DetectorRuntime({
    thresholds: settings.thresholds,
    dryRun: settings.dryRun,
    maxKeys: config.maxKeys,
    metrics: deps.metrics,
    onFailure: (input, err) =>
      log.error(
        { event_id: input.event_id, tenant: input.tenant, err: err.message, stack: err.stack },
        'the detectors failed on an event; it was skipped (please report this)',
      ),
  });
  const sinks: DetectionSink[] = [new ClickHouseDetections(deps.clickhouse, deps.database, deps.refused)];
  if (deps.kafka !== undefined) sinks.push(new KafkaDetections(deps.kafka.producer, config.findingsTopic));
  const outputs = new DetectionOutputs(sinks, log, {
    metrics: deps.metrics,
    maxBackoffMs: deps.retryMaxBackoffMs,
    ...(deps.responder !== undefined ? { responder: deps.responder } : {}),
    ...(deps.backlog !== undefined ? { backlog: deps.backlog } : {}),
  });
  const sweeper = setInterval(() => runtime.sweep(20_000), 1000);
  sweeper.unref();
  if (settings.dryRun.size > 0)
    log.info({ dryRun: [...settings.dryRun] }, 'detectors in dry-run: reported, never acted on');

  const lookback = {
    familyLookbackS: settings.base.familyLifetimeS,
    tokenLookbackS: settings.base.tokenLifetimeS,
    familiarLookbackS: settings.base.familiarDays * 86_400,
  };
  if (deps.kafka !== undefined) {
    const windowS = REGISTRY.lifetimes(buildThresholds(settings.base)).windowS;
    const consumer = new KafkaDetector(
      deps.kafka.client,
      {
        groupId: config.groupId,
        ingestGroupId: deps.kafka.ingestGroupId,
        topics: deps.kafka.topics,
        addressTopic: config.addressTopic,
        // per-address state lives as long as its longest window (the dedup window): re-read that much
        addressLookbackS: windowS,
        retryMaxBackoffMs: deps.retryMaxBackoffMs,
        overlapSeconds: config.rebuildOverlapSeconds,
        database: deps.database,
        trust: deps.kafka.trust,
        ...lookback,
      },
      deps.clickhouse,
      deps.stage,
      runtime,
      outputs,
      {
        producer: deps.kafka.producer,
        deadLetters: deps.kafka.deadLetters,
      },
      deps.metrics,
      log,
    );
    return {
      runtime,
      outputs,
      get ready() {
        return consumer.ready;
      },
      tap: { reader: consumer, groupId: config.groupId },
      observe: () => undefined,
      stopping: () => consumer.stop(),
      async close() {
        clearInterval(sweeper);
        consumer.stop();
        await outputs.close();
      },
    };
  }

  // Single process: every subject is ours. Rebuild from ClickHouse before taking events.
  const started = Date.now();
  const nowS = Math.floor(started / 1000);
  const familiar =
    lookback.familiarLookbackS === 0
      ? { kept: 0 }
      : await readFamiliar(
          deps.clickhouse,
          deps.database,
          { fromS: nowS - lookback.familiarLookbackS },
          (row) => runtime.learnFamiliar(row),
          { log },
        );
  const { kept } = await readHistory(
    deps.clickhouse,
    deps.database,
    { familiesFromS: nowS - lookback.familyLookbackS, tokensFromS: nowS - lookback.tokenLookbackS },
    (e) => runtime.process(e, 'warmup'),
    { log },
  );
  deps.metrics.detectorEvents.inc({ mode: 'warmup' }, kept);
  deps.metrics.rebuildSeconds.observe((Date.now() - started) / 1000);
  log.info(
    { storedEvents: kept, familiarRows: familiar.kept, seconds: (Date.now() - started) / 1000 },
    'detector state rebuilt',
  );
  return {
    runtime,
    outputs,
    ready: true,
    observe(rows) {
      const found = rows.flatMap((r) => runtime.process(r, 'live'));
      deps.metrics.detectorEvents.inc({ mode: 'live' }, rows.length);
      outputs.write(found).catch((err: Error) => log.error({ err: err.message }, 'detections not stored'));
    },
    stopping: () => undefined,
    async close() {
      clearInterval(sweeper);
      await outputs.close();
    },
  };
}
