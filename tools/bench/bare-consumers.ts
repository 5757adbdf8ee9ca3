/**
 * The bare-consumer baseline of bench:capacity: a consumer group member that only reads a topic from
 * its start and decodes each value (JSON.parse), nothing else — with kafkajs (the client tokenwatch
 * uses) and with @platformatic/kafka, behind one interface so both are measured the same way:
 * fetch sizes as tokenwatch's consumer (platform/kafka/client.ts), events/s from the first message
 * to the last, and this process's CPU over the same span.
 */
import { Consumer as PlatformaticConsumer } from '@platformatic/kafka';
import { Kafka, logLevel } from 'kafkajs';

/** As tokenwatch's consumer fetches: 1 MiB per partition, 8 MiB per fetch, 250 ms wait. */
const FETCH = { maxBytesPerPartition: 1024 * 1024, maxBytes: 8 * 1024 * 1024, maxWaitMs: 250 };

export interface BareConsumer {
  /** the client's package name */
  readonly client: string;
  /** Joins `groupId`, reads `topic` from its start and hands each message's value to `decode` until `n` were; then leaves. */
  readAll(topic: string, groupId: string, n: number, decode: (value: Buffer) => void): Promise<void>;
}

export function kafkajsConsumer(brokers: string): BareConsumer {
  return {
    client: 'kafkajs',
    async readAll(topic, groupId, n, decode) {
      const kafka = new Kafka({ brokers: [brokers], clientId: 'bench-bare', logLevel: logLevel.NOTHING });
      const consumer = kafka.consumer({
        groupId,
        maxBytesPerPartition: FETCH.maxBytesPerPartition,
        maxBytes: FETCH.maxBytes,
        maxWaitTimeInMs: FETCH.maxWaitMs,
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      let seen = 0;
      const done = Promise.withResolvers<void>();
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: 6,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) if (m.value !== null) decode(m.value);
          seen += batch.messages.length;
          if (seen >= n) done.resolve();
        },
      });
      await done.promise;
      await consumer.disconnect();
    },
  };
}

export function platformaticConsumer(brokers: string): BareConsumer {
  return {
    client: '@platformatic/kafka',
    async readAll(topic, groupId, n, decode) {
      const consumer = new PlatformaticConsumer({
        groupId,
        clientId: 'bench-bare',
        bootstrapBrokers: [brokers],
        maxBytesPerPartition: FETCH.maxBytesPerPartition,
        maxBytes: FETCH.maxBytes,
        maxWaitTime: FETCH.maxWaitMs,
      });
      const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
      let seen = 0;
      const done = Promise.withResolvers<void>();
      stream.on('data', (m) => {
        if (m.value !== undefined) decode(m.value);
        if (++seen >= n) done.resolve();
      });
      stream.on('error', (err: Error) => done.reject(err));
      await done.promise;
      await stream.close();
      await consumer.close(true);
    },
  };
}

export interface BareResult {
  client: string;
  events: number;
  eventsPerSecond: number;
  /** this process's CPU (user + system) from the first message to the last, per event */
  cpuUsPerEvent: number;
}

/** Reads `n` events of `topic` with `c` (a new group each time), decoding each as JSON. */
export async function measureBare(
  c: BareConsumer,
  topic: string,
  n: number,
  run: number,
): Promise<BareResult> {
  let first: { t: number; cpu: NodeJS.CpuUsage } | undefined;
  let decoded = 0;
  await c.readAll(topic, `${topic}-bare-${run}`, n, (value) => {
    first ??= { t: performance.now(), cpu: process.cpuUsage() };
    JSON.parse(value.toString('utf8'));
    decoded++;
  });
  if (first === undefined) throw new Error(`${c.client}: no message read from ${topic}`);
  const seconds = (performance.now() - first.t) / 1000;
  const cpu = process.cpuUsage(first.cpu);
  return {
    client: c.client,
    events: decoded,
    eventsPerSecond: decoded / seconds,
    cpuUsPerEvent: (cpu.user + cpu.system) / decoded,
  };
}
