/**
 * The one module that imports the Kafka client library (kafkajs). Everything else uses the types
 * re-exported here, so a KafkaJS-compatible client can replace it without touching the rest.
 */
import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  Kafka,
  logLevel,
  Partitioners,
  type PartitionMetadata,
  type Producer,
} from 'kafkajs';
import type { Logger } from 'pino';
import { forEachInSlices } from '../slices.ts';
import { cut, wellFormedJsonText } from '../text.ts';

export type { Consumer, EachBatchPayload, Kafka, Producer };

export interface KafkaOptions {
  brokers: string[];
  clientId: string;
}

// kafkajs logs retriable protocol responses (a coordinator still loading, a leader moving) as errors
// and then retries; tokenwatch reports real failures itself (consumer crashes, failed sends), so
// kafkajs' own errors are warnings here.
const LEVELS: Record<number, 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'warn',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

// kafkajs 2.2.4 schedules timers with negative durations, which Node runs after 1 ms and reports
// as TimeoutNegativeWarning on stderr. Harmless; that one warning is hidden, every other one stays.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
  if (type === 'TimeoutNegativeWarning') return;
  (emitWarning as (w: string | Error, ...r: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

export function createKafka(o: KafkaOptions, log: Logger): Kafka {
  process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';
  return new Kafka({
    clientId: o.clientId,
    brokers: o.brokers,
    connectionTimeout: 3000,
    retry: { initialRetryTime: 300, retries: 10 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const { message, ...rest } = entry;
        log[LEVELS[level] ?? 'info']({ kafka: rest }, message);
      },
  });
}

/** Creates the topics that do not exist yet (no-op for existing ones). */
export async function ensureTopics(kafka: Kafka, topics: string[], numPartitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({ topic, numPartitions })),
      });
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * acks=all, not idempotent: a retried send may write a message twice, and the copies collapse by
 * event_id in ClickHouse. (kafkajs' idempotent producer would retry forever and hold HTTP requests.)
 */
export function createProducer(kafka: Kafka): Producer {
  return kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 5 } });
}

/** A group member; it heartbeats while it waits for buffer room, so a short session timeout is safe. */
export function createConsumer(kafka: Kafka, groupId: string, sessionTimeoutMs: number): Consumer {
  return kafka.consumer({
    groupId,
    sessionTimeout: sessionTimeoutMs,
    heartbeatInterval: Math.min(3000, Math.floor(sessionTimeoutMs / 3)),
    // kafkajs decodes a fetch response in one go on the event loop: smaller fetches, shorter holds.
    maxBytesPerPartition: 1024 * 1024,
    maxBytes: 8 * 1024 * 1024,
    maxWaitTimeInMs: 250,
  });
}

export interface OutgoingMessage {
  key: string;
  value: string;
  headers?: Record<string, string>;
}

/** Kafka's default message.max.bytes is 1 MiB per record batch: stay under it in every send. */
const MAX_SEND_BYTES = 768 * 1024;

/**
 * Sends messages (acks=all) in sends of at most MAX_SEND_BYTES, in parallel; resolves when all are
 * acknowledged. Keys and values are made well-formed first (every Kafka write goes through here).
 */
export async function sendChunked(
  producer: Producer,
  topic: string,
  messages: OutgoingMessage[],
): Promise<void> {
  const sends: Promise<unknown>[] = [];
  // Handled at once (Promise.all below sees the failure): a send failing while later chunks are
  // still being made ready must not be an unhandled rejection.
  const send = (messages: OutgoingMessage[]) => {
    const sent = producer.send({ topic, acks: -1, messages });
    sent.catch(() => undefined);
    return sent;
  };
  let chunk: OutgoingMessage[] = [];
  let bytes = 0;
  // In slices shared with all other work: thousands of messages are not made ready in one go.
  await forEachInSlices(messages, (raw) => {
    const m: OutgoingMessage = { key: cut(raw.key, 1024), value: wellFormedJsonText(raw.value) };
    if (raw.headers !== undefined) m.headers = raw.headers;
    const size = Buffer.byteLength(m.value) + Buffer.byteLength(m.key);
    if (bytes + size > MAX_SEND_BYTES && chunk.length > 0) {
      sends.push(send(chunk));
      chunk = [];
      bytes = 0;
    }
    chunk.push(m);
    bytes += size;
  });
  if (chunk.length > 0) sends.push(send(chunk));
  await Promise.all(sends);
}

const partitioner = Partitioners.DefaultPartitioner();

/**
 * The partition a keyed message goes to with the producers' default partitioner (murmur2 of the
 * key, as kafkajs and the Java client do): which subjects' state belongs to which partition.
 */
export function partitionOfKey(key: string, numPartitions: number): number {
  let partitionMetadata = metadataFor.get(numPartitions);
  if (partitionMetadata === undefined) {
    partitionMetadata = Array.from({ length: numPartitions }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
      partitionErrorCode: 0,
      offlineReplicas: [],
    }));
    metadataFor.set(numPartitions, partitionMetadata);
  }
  return partitioner({ topic: '', partitionMetadata, message: { key, value: null } });
}
const metadataFor = new Map<number, PartitionMetadata[]>();

/** Partition counts of topics. */
export async function partitionCounts(kafka: Kafka, topics: string[]): Promise<Map<string, number>> {
  return withAdmin(kafka, async (admin) => {
    const { topics: meta } = await admin.fetchTopicMetadata({ topics });
    return new Map(meta.map((t) => [t.name, t.partitions.length]));
  });
}

export interface PartitionStart {
  /** the group's committed offset, or undefined when it has none */
  committed: bigint | undefined;
  /** the first offset whose message is at or after the timestamp (the end of the log if none) */
  atTime: bigint;
}

/** Per partition of `topic`: where `groupId` stands, and the first offset at or after `timestampMs`. */
export async function partitionStarts(
  kafka: Kafka,
  groupId: string,
  topic: string,
  timestampMs: number,
): Promise<Map<number, PartitionStart>> {
  return withAdmin(kafka, async (admin) => {
    const [group] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
    const committed = new Map(group?.partitions.map((p) => [p.partition, BigInt(p.offset)]) ?? []);
    return new Map(
      byTime.map((o) => {
        const c = committed.get(o.partition);
        return [
          o.partition,
          { committed: c !== undefined && c >= 0n ? c : undefined, atTime: BigInt(o.offset) },
        ];
      }),
    );
  });
}

async function withAdmin<T>(kafka: Kafka, work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}
