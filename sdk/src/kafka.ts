/**
 * The Kafka side of the SDK (import `@tokenwatch/sdk/kafka`; needs the `kafkajs` package):
 * - `createKafkaReporter`: events to tokenwatch's topic, batched, key `tenant:subject` (murmur2,
 *   the partitioner tokenwatch's detectors expect), through the same non-blocking queue as HTTP.
 * - `followRevocations`: keeps a denylist current from tokenwatch's revocation topic. Every
 *   verifier must see every notice, so each follower reads the whole topic from the start (notices
 *   already expired are skipped) in a consumer group of its own, and commits nothing.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  CompressionTypes,
  type Consumer,
  Kafka,
  type KafkaConfig,
  logLevel,
  Partitioners,
  type Producer,
} from 'kafkajs';
import type { Denylist } from './denylist.ts';
import { ConfigurationError } from './errors.ts';
import type { TokenEvent } from './events.ts';
import type { SdkLogger } from './log.ts';
import { stderrLogger } from './log.ts';
import { pause } from './pause.ts';
import { BatchingReporter, type ReporterOptions, type SendResult, type Transport } from './reporter.ts';
import type { RevocationFollower } from './revocation-poller.ts';

/** How to reach Kafka: brokers (plus any kafkajs client settings), or a kafkajs client of yours. */
export type KafkaConnection =
  | { brokers: string[]; clientId?: string; config?: Omit<KafkaConfig, 'brokers'> }
  | { kafka: Kafka };

function kafkaOf(c: KafkaConnection, logger: SdkLogger): Kafka {
  if ('kafka' in c) return c.kafka;
  if (!Array.isArray(c.brokers) || c.brokers.length === 0)
    throw new ConfigurationError('Kafka brokers are required, e.g. ["kafka:9092"]');
  return new Kafka({
    clientId: c.clientId ?? 'tokenwatch-sdk',
    brokers: c.brokers,
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    // the reporter retries with its own backoff; kafkajs' own retries would hold a batch for long
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
    logLevel: logLevel.ERROR,
    logCreator:
      () =>
      ({ log: { message, ...rest } }) =>
        logger.warn({ kafka: rest }, `kafkajs: ${message}`),
    ...c.config,
  });
}

export type KafkaReporterOptions = KafkaConnection &
  ReporterOptions & {
    /** tokenwatch's events topic (default `tokenwatch.events`) */
    topic?: string;
    /** default gzip */
    compression?: 'gzip' | 'none';
    /** default -1 (all in-sync replicas) */
    acks?: -1 | 0 | 1;
  };

class KafkaTransport implements Transport {
  readonly target: string;
  readonly #producer: Producer;
  readonly #topic: string;
  readonly #compression: CompressionTypes;
  readonly #acks: number;
  #connected: Promise<void> | undefined;

  constructor(kafka: Kafka, o: KafkaReporterOptions) {
    this.#topic = o.topic ?? 'tokenwatch.events';
    this.target = `kafka topic ${this.#topic}`;
    this.#compression = o.compression === 'none' ? CompressionTypes.None : CompressionTypes.GZIP;
    this.#acks = o.acks ?? -1;
    this.#producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
  }

  async send(batch: TokenEvent[]): Promise<SendResult> {
    try {
      this.#connected ??= this.#producer.connect();
      await this.#connected;
      await this.#producer.send({
        topic: this.#topic,
        acks: this.#acks,
        compression: this.#compression,
        messages: batch.map((e) => ({ key: `${e.tenant}:${e.subject ?? ''}`, value: JSON.stringify(e) })),
      });
      return { ok: true };
    } catch (err) {
      // a failed connect is tried again on the next batch
      this.#connected = undefined;
      return { ok: false, retry: true, error: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    await this.#producer.disconnect().catch(() => undefined);
  }
}

/** A reporter that sends events to tokenwatch's Kafka topic. */
export function createKafkaReporter(options: KafkaReporterOptions): BatchingReporter {
  process.env['KAFKAJS_NO_PARTITIONER_WARNING'] ??= '1';
  const kafka = kafkaOf(options, options.logger ?? stderrLogger);
  return new BatchingReporter(new KafkaTransport(kafka, options), options);
}

export type RevocationTopicOptions = KafkaConnection & {
  denylist: Denylist;
  /** tokenwatch's revocation topic (default `tokenwatch.revocations`) */
  topic?: string;
  /** this follower's consumer group (default one of its own per process) */
  groupId?: string;
  logger?: SdkLogger;
};

/** Follows the revocation topic into the denylist; `ready` once the notices present at start are applied. */
export function followRevocations(options: RevocationTopicOptions): RevocationFollower {
  const logger = options.logger ?? stderrLogger;
  const kafka = kafkaOf(options, logger);
  const topic = options.topic ?? 'tokenwatch.revocations';
  const groupId =
    options.groupId ?? `tokenwatch-denylist-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const stats = { polls: 0, failures: 0, notices: 0, lastError: undefined as string | undefined };
  let consumer: Consumer | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  const start = async () => {
    // What "caught up" means: every partition read up to its end offset as it was at start.
    const admin = kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
    const pending = new Map(
      ends.filter((p) => Number(p.high) > Number(p.low)).map((p) => [p.partition, Number(p.high)]),
    );
    if (pending.size === 0) markReady();

    consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, retry: { retries: Number.MAX_SAFE_INTEGER } });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      stats.failures++;
      stats.lastError = payload.error.message;
      logger.error(
        { topic, error: payload.error.message },
        'revocation follower crashed; kafkajs restarts it',
      );
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        stats.polls++;
        for (const message of batch.messages) {
          stats.notices++;
          let value: unknown;
          try {
            value = JSON.parse(message.value?.toString('utf8') ?? '');
          } catch {
            value = message.value?.toString('utf8');
          }
          options.denylist.apply(value);
        }
        const end = pending.get(batch.partition);
        if (end !== undefined && Number(batch.lastOffset()) + 1 >= end) {
          pending.delete(batch.partition);
          if (pending.size === 0) markReady();
        }
      },
    });
  };

  // Kafka may not be there yet: keep trying (verification does not wait for it meanwhile).
  const stop = new AbortController();
  const started = (async () => {
    for (let backoffMs = 1_000; !stop.signal.aborted; backoffMs = Math.min(backoffMs * 2, 30_000)) {
      try {
        await start();
        return;
      } catch (err) {
        stats.failures++;
        stats.lastError = (err as Error).message;
        logger.error(
          { topic, error: stats.lastError, retryInMs: backoffMs },
          'could not follow the revocation topic; retrying (until then revoked tokens are refused only at expiry)',
        );
        await consumer?.disconnect().catch(() => undefined);
        consumer = undefined;
        await pause(backoffMs, stop.signal);
      }
    }
  })();

  return {
    ready,
    stats: () => ({ ...stats }),
    async close() {
      stop.abort();
      await started;
      await consumer?.disconnect().catch(() => undefined);
    },
  };
}
