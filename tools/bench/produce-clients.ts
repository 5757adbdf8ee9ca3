/**
 * `node tools/bench/produce-clients.ts`: the CPU the service spends producing what the HTTP door
 * relays, per message — kafkajs through platform/kafka/client.ts (`sendChunked`, what the service
 * does) beside @platformatic/kafka with the same murmur2 placement — on a private Kafka broker. Both
 * send the relay's messages (`bench:ingest`'s events, key `tenant:subject`, signed reporter headers) in
 * 1,000-message requests, 8 at once, acks=all, alternating rounds; each round checks that every
 * message landed on the partition `partitionOfKey` names. Prints the figures (issue 20: which client
 * the produce path should use); it writes no results file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { Producer as PlatformaticProducer, stringSerializers } from '@platformatic/kafka';
import pino from 'pino';
import { reporterHeaders } from '../../ingest/pipeline/reporter-headers.ts';
import {
  createKafka,
  createProducer,
  ensureTopics,
  type Kafka,
  type OutgoingMessage,
  partitionOfKey,
  sendChunked,
} from '../../platform/kafka/client.ts';
import { startKafka, stopKafka } from '../local-stack/kafka-server.ts';
import { freePort } from '../local-stack/process.ts';
import { makeEvents } from './ingest-events.ts';

const N = 100_000;
const ROUNDS = 3;
const PARTITIONS = 6;
const SECRET = 'bench-relay-secret-0123456789abcdefghijkl';

/** The relay's messages of `bench:ingest`'s events: keyed `tenant:subject`, signed reporter headers. */
function relayMessages(n: number): OutgoingMessage[] {
  return makeEvents(n, 'p').map((e) => {
    const value = JSON.stringify(e);
    const headers = reporterHeaders({ id: 'acme:0123456789ab', role: '', door: 'http' }, value, SECRET);
    return {
      key: `acme:${String(e['subject'])}`,
      value,
      valueWellFormed: true,
      ...(headers ? { headers } : {}),
    };
  });
}

const chunks = <T>(xs: T[], n: number): T[][] =>
  Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Per-partition end offsets of `topic`. */
async function ends(kafka: Kafka, topic: string): Promise<number[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return Array.from({ length: PARTITIONS }, (_, p) =>
      Number(offsets.find((o) => o.partition === p)?.high ?? 0),
    );
  } finally {
    await admin.disconnect();
  }
}

const dir = mkdtempSync(`${tmpdir()}/tokenwatch-produce-`);
const port = await freePort();
const broker = await startKafka({
  dir,
  port,
  controllerPort: await freePort(),
  partitions: PARTITIONS,
  heapMb: 768,
});
const kafka = createKafka({ brokers: [broker.brokers], clientId: 'bench-produce' }, pino({ level: 'error' }));
const viaKafkajs = createProducer(kafka);
const viaPlatformatic = new PlatformaticProducer({
  clientId: 'bench-produce-platformatic',
  bootstrapBrokers: [broker.brokers],
  serializers: stringSerializers,
  acks: -1,
  // the producers' placement (Java-compatible murmur2 of the key): its default partitioner is not
  partitioner: (m, _key, ctx) =>
    partitionOfKey(String(m.key), ctx.metadata?.topics.get(m.topic)?.partitionsCount ?? PARTITIONS),
});
const clients = {
  kafkajs: (topic: string, batch: OutgoingMessage[]) => sendChunked(viaKafkajs, topic, batch),
  '@platformatic/kafka': (topic: string, batch: OutgoingMessage[]) =>
    viaPlatformatic.send({
      messages: batch.map((m) => ({ topic, key: m.key, value: m.value, headers: m.headers })),
    }),
};
try {
  await viaKafkajs.connect();
  const topics = Object.keys(clients).map((_, i) => `bench.produce.${i}`);
  await ensureTopics(kafka, topics, PARTITIONS);
  const expected = Array.from({ length: PARTITIONS }, () => 0);
  for (const m of relayMessages(N)) expected[partitionOfKey(m.key, PARTITIONS)]! += 1;
  for (let round = 0; round <= ROUNDS; round++) {
    for (const [i, [name, send]] of Object.entries(clients).entries()) {
      const topic = topics[i]!;
      const messages = relayMessages(round === 0 ? 5000 : N); // round 0: warm-up
      const c0 = cpuMs();
      const t0 = performance.now();
      for (const group of chunks(chunks(messages, 1000), 8))
        await Promise.all(group.map((b) => send(topic, b)));
      const cpu = cpuMs() - c0;
      const seconds = (performance.now() - t0) / 1000;
      if (round === 0) continue;
      const got = await ends(kafka, topic);
      const warm = relayMessages(5000).map((m) => partitionOfKey(m.key, PARTITIONS));
      const want = expected.map((n, p) => round * n + warm.filter((q) => q === p).length);
      if (got.some((n, p) => n !== want[p]))
        throw new Error(`${name}: partitions hold ${got.join(',')} messages, expected ${want.join(',')}`);
      console.log(
        `${name}, round ${round}: ${((cpu * 1000) / N).toFixed(2)} µs CPU per message, ${Math.round(N / seconds)} messages/s (load ${loadavg()[0]!.toFixed(1)}); every message on its murmur2 partition`,
      );
    }
  }
} finally {
  await viaKafkajs.disconnect();
  await viaPlatformatic.close();
  await stopKafka(dir);
  rmSync(dir, { recursive: true, force: true });
}
