/**
 * The tokenwatch service: wires sources → validation/enrichment → sinks, and the detectors.
 *   Kafka consumer ───────┐
 *                         ├─> Stage (validate, normalize, geo) ─> Batcher ─> ClickHouse
 *   POST /v1/events ──────┘      (with Kafka, HTTP events are published to the topic instead)
 *   validated events ─> detectors (a tap of the Kafka consumer, or in process)
 *                         ─> detections table + findings topic
 * With Kafka and the detectors on, the one consumer of the events topics runs in the detectors'
 * group and commits once rows and detections are both stored.
 */

import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import { type DetectionStage, startDetection } from '../detectors/run/stage.ts';
import { openIpIntel } from '../ingest/ipintel/provider.ts';
import { createMetrics, type Metrics } from '../ingest/metrics.ts';
import { Batcher } from '../ingest/pipeline/batcher.ts';
import type { KafkaTrust } from '../ingest/pipeline/kafka-origin.ts';
import { Stage } from '../ingest/pipeline/stage.ts';
import { ClickHouseSink } from '../ingest/sink/clickhouse-sink.ts';
import { DeadLetterStore } from '../ingest/sink/dead-letter-store.ts';
import { DeadLetterTopic } from '../ingest/sink/dead-letter-topic.ts';
import { DirectIntake, type Intake, KafkaIntake } from '../ingest/sources/http/intake.ts';
import { KafkaSource } from '../ingest/sources/kafka-source.ts';
import type { KafkaTap } from '../ingest/sources/kafka-tap.ts';
import { WriteBacklog } from '../platform/backlog.ts';
import { createClickHouse, detectFeatures, type ServerFeatures } from '../platform/clickhouse/client.ts';
import { isSchemaCurrent, migrate } from '../platform/clickhouse/migrate.ts';
import { dropExpiredPartitions } from '../platform/clickhouse/retention.ts';
import type { SchemaOptions } from '../platform/clickhouse/schema.ts';
import {
  createKafka,
  createProducer,
  ensureTopics,
  type Kafka,
  type Producer,
} from '../platform/kafka/client.ts';
import { startResponse } from '../response/stage.ts';
import type { Config } from './config.ts';
import { buildHttpApi } from './http/app.ts';
import type { ReadinessCheck } from './http/ops-routes.ts';

export interface Service {
  /** http://host:port the service listens on */
  url: string;
  metrics: Metrics;
  batcher: Batcher;
  clickhouse: ClickHouseClient;
  features: ServerFeatures;
  /** undefined when TOKENWATCH_DETECT is off */
  detection: DetectionStage | undefined;
  /** graceful shutdown: stop taking events, store what was taken, commit, disconnect */
  close(): Promise<void>;
}

export const schemaOptions = (config: Config): SchemaOptions => ({
  database: config.clickhouse.database,
  cluster: config.clickhouse.cluster,
  retentionDays: config.clickhouse.retentionDays,
});

/** Waits for ClickHouse to answer (it may start after us, as in docker compose), logging progress. */
export async function connectClickHouse(config: Config, log: Logger, timeoutMs = 120_000) {
  const client = createClickHouse(config.clickhouse);
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return { client, features: await detectFeatures(client) };
    } catch (err) {
      if (Date.now() > deadline) {
        await client.close();
        throw new Error(
          `ClickHouse at ${config.clickhouse.url} did not answer within ${timeoutMs / 1000} s: ${(err as Error).message}. Check TOKENWATCH_CLICKHOUSE_URL (and run \`npm run stack\` for a local one).`,
        );
      }
      if (attempt === 1 || attempt % 10 === 0)
        log.warn({ url: config.clickhouse.url, err: (err as Error).message }, 'waiting for ClickHouse');
      await new Promise((r) => setTimeout(r, Math.min(500 * attempt, 3000)));
    }
  }
}

export async function startService(config: Config, log: Logger): Promise<Service> {
  const metrics = createMetrics();
  // First: a database file named but unreadable stops the start before anything is connected.
  const ipIntel = openIpIntel(config.ingest.ipIntel, log.child({ component: 'ip-intel' }));
  const { client, features } = await connectClickHouse(config, log);
  const schema = schemaOptions(config);
  if (config.clickhouse.migrateOnStart) {
    const report = await migrate(client, schema, features, log);
    log.info(
      { server: features.version, applied: report.applied.length, latest: report.latest },
      'schema is current',
    );
  }
  let schemaCurrent = await isSchemaCurrent(client, schema);
  if (!schemaCurrent) log.warn('schema is not current: run `tokenwatch migrate` (not ready until then)');

  const { ingest, service: svc } = config;
  const stage = new Stage(ingest.limits, metrics, ipIntel);
  // Every table's refused rows become dead letters; writes being retried are readiness' business.
  const deadLetters = new DeadLetterStore(
    client,
    schema.database,
    metrics,
    log.child({ component: 'dead-letters' }),
  );
  const backlog = new WriteBacklog();
  const batcher = new Batcher(
    new ClickHouseSink(client, schema.database, metrics, deadLetters),
    ingest.batch,
    metrics,
    log.child({ component: 'batcher' }),
  );

  let producer: Producer | undefined;
  let sources: KafkaSource[] = [];
  let startSources: ((tap: DetectionStage['tap']) => Promise<void>) | undefined;
  let detectionKafka: { client: Kafka; producer: Producer } | undefined;
  let intake: Intake | undefined;
  const checks: ReadinessCheck[] = [
    { name: 'clickhouse', check: async () => (await client.ping()).success },
    { name: 'migrations', check: async () => (schemaCurrent ||= await isSchemaCurrent(client, schema)) },
    {
      // Rows that could not be stored for long: ClickHouse down or the schema wrong (refused rows
      // never wait: they are dead-lettered).
      name: 'storage',
      check: () =>
        batcher.oldestWaitMs() <= svc.readyMaxBacklogMs &&
        (backlog.oldest()?.waitedMs ?? 0) <= svc.readyMaxBacklogMs,
    },
  ];

  const kafkaTrust: KafkaTrust = {
    bindings: ingest.kafka.bindings,
    relaySecret: ingest.kafka.relaySecret,
    requireReporter: ingest.kafka.requireReporter,
  };
  if (config.kafka.brokers.length > 0) {
    if (kafkaTrust.relaySecret === '')
      log.warn(
        'TOKENWATCH_RELAY_SECRET is unset: reporter headers on the events topic are believed as written, so any producer with write access to it can name a reporter and role; set the same secret on every instance (docs/operations.md, "Kafka ACLs")',
      );
    if (kafkaTrust.bindings.size > 0)
      log.info(
        { producerTopics: [...kafkaTrust.bindings.values()] },
        'producer topics bound to a tenant and role: their events are checked and relayed to the events topic',
      );
    const kafka = createKafka(config.kafka, log.child({ component: 'kafka' }));
    await ensureTopics(
      kafka,
      [
        ...new Set([
          ...ingest.kafka.topics,
          ...ingest.kafka.bindings.keys(),
          ingest.kafka.publishTopic,
          ingest.kafka.deadLetterTopic,
          ...(config.detect.enabled
            ? [config.detect.findingsTopic, config.detect.addressTopic, config.response.revocationsTopic]
            : []),
        ]),
      ],
      config.kafka.topicPartitions,
    ).catch((err: Error) => {
      throw new Error(
        `Kafka at ${config.kafka.brokers.join(',')} did not answer (${err.message}). Check TOKENWATCH_KAFKA_BROKERS ` +
          '(run `npm run stack` for a local one), or leave it empty for single-process mode.',
      );
    });
    producer = createProducer(kafka);
    let producerConnected = false;
    producer.on(producer.events.CONNECT, () => {
      producerConnected = true;
    });
    producer.on(producer.events.DISCONNECT, () => {
      producerConnected = false;
    });
    await producer.connect();
    const deadLetterTopic = new DeadLetterTopic(producer, ingest.kafka.deadLetterTopic, log);
    intake = new KafkaIntake(
      producer,
      ingest.kafka.publishTopic,
      batcher,
      deadLetterTopic,
      kafkaTrust.relaySecret,
    );
    const relay = {
      topic: ingest.kafka.publishTopic,
      producer,
      retryMaxBackoffMs: ingest.batch.retryMaxBackoffMs,
    };
    const connected = () => producerConnected;
    startSources = async (tap) => {
      const door = (groupId: string, topics: string[], trust: KafkaTrust, reader?: KafkaTap) =>
        new KafkaSource(
          kafka,
          {
            groupId,
            topics,
            sessionTimeoutMs: config.kafka.sessionTimeoutMs,
            topicPartitions: config.kafka.topicPartitions,
            trust,
            relay,
            ...(reader !== undefined ? { tap: reader } : {}),
          },
          stage,
          batcher,
          deadLetterTopic,
          metrics,
          log.child({ component: 'kafka-source' }),
        );
      // With the detectors: one consumer in their group (one read for both).
      sources = [
        tap === undefined
          ? door(ingest.kafka.groupId, ingest.kafka.topics, kafkaTrust)
          : door(tap.groupId, ingest.kafka.topics, kafkaTrust, tap.reader),
      ];
      for (const source of sources) await source.start();
      checks.push({ name: 'kafka', check: () => connected() && sources.every((s) => s.ready) });
    };
    detectionKafka = { client: kafka, producer };
  } else {
    if (kafkaTrust.bindings.size > 0)
      log.warn(
        'TOKENWATCH_KAFKA_PRODUCER_TOPICS is set but TOKENWATCH_KAFKA_BROKERS is empty: no topic is consumed',
      );
    log.info(
      'TOKENWATCH_KAFKA_BROKERS is empty: single-process mode (HTTP events go straight to ClickHouse)',
    );
  }

  // What two stages share is passed explicitly: no stage reads another's settings.
  const response = config.detect.enabled
    ? await startResponse(config.response, {
        clickhouse: client,
        metrics,
        log: log.child({ component: 'response' }),
        ...(producer !== undefined ? { producer } : {}),
        ...(detectionKafka !== undefined
          ? { kafka: { client: detectionKafka.client, sessionTimeoutMs: config.kafka.sessionTimeoutMs } }
          : {}),
        refused: deadLetters,
        backlog,
        database: config.clickhouse.database,
        retentionDays: config.clickhouse.retentionDays,
        thresholds: config.detect.settings.thresholds,
        // a family's access tokens are looked up again once the batches in flight are stored
        relookAfterMs: 2 * ingest.batch.maxWaitMs + 1000,
        retryMaxBackoffMs: ingest.batch.retryMaxBackoffMs,
      })
    : undefined;
  const detection = config.detect.enabled
    ? await startDetection(config.detect, {
        clickhouse: client,
        stage,
        metrics,
        log: log.child({ component: 'detectors' }),
        ...(detectionKafka !== undefined
          ? {
              kafka: {
                ...detectionKafka,
                topics: ingest.kafka.topics,
                ingestGroupId: ingest.kafka.groupId,
                deadLetters,
                trust: kafkaTrust,
              },
            }
          : {}),
        ...(response !== undefined ? { responder: response } : {}),
        refused: deadLetters,
        backlog,
        database: config.clickhouse.database,
        retryMaxBackoffMs: ingest.batch.retryMaxBackoffMs,
      })
    : undefined;
  await startSources?.(detection?.tap);
  if (detection !== undefined) checks.push({ name: 'detectors', check: () => detection.ready });
  else log.warn('TOKENWATCH_DETECT is off: events are stored, nothing is detected');
  // Kafka mode: the guard shared by all instances reads its topic
  if (response?.sharesGuard) checks.push({ name: 'guard', check: () => response.ready() });
  // Single process: the HTTP door hands its events to the batcher, and to the detectors in process.
  intake ??= new DirectIntake(stage, batcher, ingest.limits.httpAckTimeoutMs, detection?.observe);

  const { app, metricsApp, shuttingDown } = await buildHttpApi({
    service: svc,
    ingest,
    log: log.child({ component: 'http' }),
    stage,
    intake,
    metrics,
    checks,
    clickhouse: client,
    database: config.clickhouse.database,
  });
  const address = await app.listen({ host: svc.host, port: svc.port });
  const metricsAddress = await metricsApp?.listen({ host: svc.metricsHost, port: svc.metricsPort });

  const retention = features.ttl
    ? undefined
    : setInterval(() => {
        dropExpiredPartitions(client, schema, features, log).catch((err: Error) =>
          log.error({ err: err.message }, 'retention: dropping expired partitions failed'),
        );
      }, 3_600_000);
  retention?.unref();
  if (!features.ttl) await dropExpiredPartitions(client, schema, features, log);

  log.info(
    {
      address,
      metrics: metricsAddress ?? `${address}/metrics`,
      kafka: config.kafka.brokers.length > 0 ? config.kafka.brokers : 'off',
      clickhouse: config.clickhouse.url,
      server: features.version,
    },
    'tokenwatch ingest is running',
  );

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(retention);
      log.info('shutting down: closing HTTP, storing buffered events, committing offsets');
      shuttingDown();
      const httpClosed = app.close();
      // Connections still open after the grace (a trickled body, a slow reader) are cut.
      const cut = setTimeout(() => app.server.closeAllConnections(), svc.shutdownGraceMs);
      cut.unref();
      void httpClosed.finally(() => clearTimeout(cut));
      // Store what is buffered now, so requests waiting for their rows are answered at once.
      batcher.flush().catch(() => undefined);
      await httpClosed;
      const flushed = batcher.close();
      detection?.stopping();
      await Promise.all(sources.map((s) => s.stopFetching()));
      await flushed.catch((err: Error) =>
        log.error({ err: err.message }, 'some buffered rows were not stored'),
      );
      await Promise.all(sources.map((s) => s.disconnect()));
      await detection?.close();
      await response?.close();
      await producer?.disconnect();
      await metricsApp?.close();
      await client.close();
      ipIntel.close();
      log.info('shut down cleanly');
    })());

  return { url: address, metrics, batcher, clickhouse: client, features, detection, close };
}
