/**
 * The one module that imports the Kafka client library (kafkajs). Everything else uses the types
 * re-exported here, so a KafkaJS-compatible client can replace it without touching the rest.
 */
import {
  type Admin,
  CompressionTypes,
  type Consumer,
  type EachBatchPayload,
  Kafka,
  logLevel,
  Partitioners,
  type Producer,
} from 'kafkajs';
import type { Logger } from 'pino';
import { forEachInSlices } from '../slices.ts';
import { cut, wellFormedJsonText } from '../text.ts';
import { murmur2Partition } from './murmur2.ts';
import { untilServed } from './until-served.ts';

export type { Consumer, EachBatchPayload, Kafka, Producer };

export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  /** TOKENWATCH_KAFKA_COMPRESSION: of every record batch the producers of this client send (default none) */
  compression?: 'none' | 'gzip';
}

const COMPRESSION = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP } as const;
/** The compression each client's producers send with (the client options are kafkajs' own, without it). */
const compressionOfKafka = new WeakMap<Kafka, CompressionTypes>();
const compressionOfProducer = new WeakMap<Producer, CompressionTypes>();
/** The logger each client was made with (for tokenwatch's own lines about it, not kafkajs'). */
const logOfKafka = new WeakMap<Kafka, Logger>();
/** How long start-up waits for the topics it just created to be served before it gives up. */
const NEW_TOPIC_SERVED_TIMEOUT_MS = 30_000;

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
  const kafka = new Kafka({
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
  compressionOfKafka.set(kafka, COMPRESSION[o.compression ?? 'none']);
  logOfKafka.set(kafka, log);
  return kafka;
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
        waitForLeaders: false,
        topics: missing.map((topic) => ({ topic, numPartitions })),
      });
      await untilTopicsServed(kafka, admin, missing);
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates a topic with its own configuration when it does not exist (an existing one is left as it
 * is); resolves with its partition count.
 */
export async function ensureTopic(
  kafka: Kafka,
  topic: string,
  o: { numPartitions: number; configs: Record<string, string> },
): Promise<number> {
  return withAdmin(kafka, async (admin) => {
    if (!(await admin.listTopics()).includes(topic)) {
      await admin
        .createTopics({
          waitForLeaders: false,
          topics: [
            {
              topic,
              numPartitions: o.numPartitions,
              configEntries: Object.entries(o.configs).map(([name, value]) => ({ name, value })),
            },
          ],
        })
        .catch((err: Error & { type?: string }) => {
          // another instance created it meanwhile
          if (err.type !== 'TOPIC_ALREADY_EXISTS' && !/already exists/i.test(err.message)) throw err;
        });
      await untilTopicsServed(kafka, admin, [topic]);
    }
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return topics[0]?.partitions.length ?? 0;
  });
}

/**
 * Resolves once topics created a moment ago are served: their metadata names a leader for every
 * partition and their leaders answer ListOffsets. kafkajs' own `waitForLeaders` retries only
 * LEADER_NOT_AVAILABLE, while a KRaft broker answers UNKNOWN_TOPIC_OR_PARTITION until its metadata
 * catches up, so the first read of a new topic (a consumer joining, offsets looked up) would fail.
 */
async function untilTopicsServed(kafka: Kafka, admin: Admin, topics: string[]): Promise<void> {
  const log = logOfKafka.get(kafka);
  if (log === undefined) throw new Error('untilTopicsServed: the Kafka client was not made by createKafka');
  await untilServed(
    async () => {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics });
      const leaderless = meta.find(
        (t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0),
      );
      if (leaderless !== undefined)
        throw Object.assign(new Error(`topic ${leaderless.name} has partitions without a leader`), {
          type: 'LEADER_NOT_AVAILABLE',
        });
      for (const topic of topics) await admin.fetchTopicOffsets(topic);
    },
    { topics, log, timeoutMs: NEW_TOPIC_SERVED_TIMEOUT_MS },
  );
}

/** A partition's offsets: the first at or after `timestampMs` (the end if none), and the end. */
export async function partitionOffsets(
  kafka: Kafka,
  topic: string,
  partition: number,
  timestampMs: number,
): Promise<{ atTime: bigint; end: bigint }> {
  return withAdmin(kafka, async (admin) => {
    const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
    const ends = await admin.fetchTopicOffsets(topic);
    const end = BigInt(ends.find((o) => o.partition === partition)?.high ?? '0');
    const at = BigInt(byTime.find((o) => o.partition === partition)?.offset ?? '-1');
    return { atTime: at < 0n || at > end ? end : at, end };
  });
}

/** Sets where a consumer group (with no member yet) starts reading a partition. */
export async function setGroupOffset(
  kafka: Kafka,
  groupId: string,
  topic: string,
  partition: number,
  offset: bigint,
): Promise<void> {
  await withAdmin(kafka, (admin) =>
    admin.setOffsets({ groupId, topic, partitions: [{ partition, offset: String(offset) }] }),
  );
}

/** Deletes a consumer group whose members have left (its committed offsets with it). */
export async function deleteGroup(kafka: Kafka, groupId: string): Promise<void> {
  await withAdmin(kafka, (admin) => admin.deleteGroups([groupId]).then(() => undefined));
}

/**
 * acks=all, not idempotent: a retried send may write a message twice, and the copies collapse by
 * event_id in ClickHouse. (kafkajs' idempotent producer would retry forever and hold HTTP requests.)
 */
export function createProducer(kafka: Kafka): Producer {
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    retry: { retries: 5 },
    createPartitioner: keyedPartitioner,
  });
  compressionOfProducer.set(producer, compressionOfKafka.get(kafka) ?? CompressionTypes.None);
  return producer;
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
  /** the value is well-formed JSON text already (stringifyWellFormed made it): not checked again */
  valueWellFormed?: boolean;
}

/** Kafka's default message.max.bytes is 1 MiB per record batch: stay under it in every send. */
const MAX_SEND_BYTES = 768 * 1024;

/**
 * Sends messages (acks=all) in sends of at most MAX_SEND_BYTES, in parallel; resolves when all are
 * acknowledged. Keys and values are made well-formed first (every Kafka write goes through here;
 * a value marked `valueWellFormed` was made so by stringifyWellFormed already).
 */
export async function sendChunked(
  producer: Producer,
  topic: string,
  messages: OutgoingMessage[],
): Promise<void> {
  const sends: Promise<unknown>[] = [];
  const compression = compressionOfProducer.get(producer) ?? CompressionTypes.None;
  // Handled at once (Promise.all below sees the failure): a send failing while later chunks are
  // still being made ready must not be an unhandled rejection.
  const send = (messages: OutgoingMessage[]) => {
    const sent = producer.send({ topic, acks: -1, compression, messages });
    sent.catch(() => undefined);
    return sent;
  };
  let chunk: OutgoingMessage[] = [];
  let bytes = 0;
  // In slices shared with all other work: thousands of messages are not made ready in one go.
  await forEachInSlices(messages, (raw) => {
    const key = cut(raw.key, 1024);
    const value = raw.valueWellFormed === true ? raw.value : wellFormedJsonText(raw.value);
    // The message itself when nothing needed fixing (the common case): no copy per message.
    let m = raw;
    if (key !== raw.key || value !== raw.value) {
      m = { key, value };
      if (raw.headers !== undefined) m.headers = raw.headers;
    }
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

/**
 * The producers' partitioner: a keyed message goes where murmur2 of its key puts it, exactly as
 * kafkajs' default (Java-compatible) partitioner places it, computed without its per-message
 * allocations; a message with a partition or without a key is left to kafkajs' own.
 */
function keyedPartitioner() {
  const fallback = Partitioners.DefaultPartitioner();
  return (args: Parameters<typeof fallback>[0]): number => {
    const { key, partition } = args.message;
    if (partition !== undefined && partition !== null) return partition;
    if (typeof key === 'string') return murmur2Partition(key, args.partitionMetadata.length);
    return fallback(args);
  };
}

/**
 * The partition a keyed message goes to with the producers' partitioner (murmur2 of the key, as
 * kafkajs and the Java client do): which subjects' state belongs to which partition.
 */
export function partitionOfKey(key: string, numPartitions: number): number {
  return murmur2Partition(key, numPartitions);
}

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
  /** the metadata committed with it (null when none) */
  committedMetadata: string | null;
  /** the first offset whose message is at or after the timestamp (the end of the log if none) */
  atTime: bigint;
  /** the partition's first offset still in the log */
  low: bigint;
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
    const low = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.low)]));
    const committed = new Map(group?.partitions.map((p) => [p.partition, p]) ?? []);
    return new Map(
      byTime.map((o) => {
        const p = committed.get(o.partition);
        const c = p === undefined ? undefined : BigInt(p.offset);
        return [
          o.partition,
          {
            committed: c !== undefined && c >= 0n ? c : undefined,
            committedMetadata: p?.metadata ?? null,
            atTime: BigInt(o.offset),
            low: low.get(o.partition) ?? 0n,
          },
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
