/**
 * `npm run bench:ingest`: events/s into ClickHouse through each door of the real service, each beside
 * a raw baseline measured in the same run (the same rows inserted straight into ClickHouse as
 * JSONEachRow, 10k rows per insert). Starts its own ClickHouse and Kafka in a temporary folder.
 *
 *   BENCH_EVENTS (default 200000)  events per measurement
 *   BENCH_ROUNDS (default 3)       rounds of (baseline, door) per door; medians are reported
 *   BENCH_KAFKA_VERSION (3.9.2)
 *   BENCH_DOORS (kafka,kafka-engine,http,http-kafka)  which doors to measure (comma-separated)
 *   BENCH_KAFKA_COMPRESSION (none)  the service's TOKENWATCH_KAFKA_COMPRESSION in the HTTP → Kafka door
 *   BENCH_RELAY_SECRET (a fixed 40-character secret)  the service's TOKENWATCH_RELAY_SECRET in the HTTP → Kafka
 *     door, as deployments run it (relayed events signed, and trusted as validated); '' = unsigned
 * Writes tools/bench/results/ingest.json and the "Ingest" section of tools/bench/RESULTS.md.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@clickhouse/client';
import { Kafka, logLevel } from 'kafkajs';
import { CLOCK_TICKS_PER_SECOND, procInfo } from '../local-stack/proc.ts';
import { count, freshDatabase, rateUntil, serverVersion } from './bench-database.ts';
import { makeEvents } from './ingest-events.ts';
import { startKafkaEngine } from './kafka-engine.ts';
import { insertRaw, rowsOf } from './raw-insert.ts';
import {
  type Headline,
  headline,
  machine,
  median,
  SERVICE_API_KEY,
  startBenchStack,
  startService,
  stopService,
  writeResults,
} from './support.ts';

const N = Number(process.env['BENCH_EVENTS'] ?? 200_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
/** HTTP load: 8 senders (gateways), each posting 1,000 events per request. */
const HTTP_SENDERS = 8;
const HTTP_BATCH = 1000;
const KAFKA_VERSION = process.env['BENCH_KAFKA_VERSION'] ?? '3.9.2';
const COMPRESSION = process.env['BENCH_KAFKA_COMPRESSION'] ?? 'none';
const RELAY_SECRET = process.env['BENCH_RELAY_SECRET'] ?? 'bench-relay-secret-0123456789abcdefghijkl';
const DOORS = new Set(
  (process.env['BENCH_DOORS'] ?? 'kafka,kafka-engine,http,http-kafka').split(',').map((d) => d.trim()),
);
const log = (msg: string) => console.error(`[bench:ingest] ${msg}`);
const ENGINE_DOOR = "peer: ClickHouse's Kafka engine → ClickHouse";

/** The service's CPU time so far (user + system, all threads), in seconds: robust where wall time is not (a shared machine). */
function cpuSeconds(child: { pid?: number | undefined }): number {
  const ticks = child.pid === undefined ? undefined : procInfo(child.pid)?.cpuTicks;
  if (ticks === undefined) throw new Error('bench:ingest: the service process has no /proc entry');
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** A door's events/s and the service's CPU µs per event over the same span. */
interface DoorRun {
  eventsPerSecond: number;
  cpuUsPerEvent: number;
}

/** Posts pre-serialized NDJSON bodies with `concurrency` requests in flight; every 200 means stored (or in Kafka). */
async function postAll(url: string, bodies: string[], concurrency: number) {
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      for (;;) {
        const res = await fetch(`${url}/v1/events`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${SERVICE_API_KEY}` },
        });
        await res.arrayBuffer();
        if (res.status === 200) break;
        if (res.status !== 503) throw new Error(`POST answered ${res.status}`);
        await sleep(100);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

function ndjsonBodies(events: Record<string, unknown>[], perRequest: number): string[] {
  const bodies: string[] = [];
  for (let i = 0; i < events.length; i += perRequest)
    bodies.push(
      events
        .slice(i, i + perRequest)
        .map((e) => JSON.stringify(e))
        .join('\n'),
    );
  return bodies;
}

async function main() {
  const stack = await startBenchStack(KAFKA_VERSION, log);
  const ch = createClient({ url: stack.clickhouseUrl, request_timeout: 300_000 });
  const kafka = new Kafka({ brokers: [stack.brokers], clientId: 'bench', logLevel: logLevel.NOTHING });
  // Ingest only: the detectors are measured by bench:detect.
  const baseEnv = { TOKENWATCH_CLICKHOUSE_URL: stack.clickhouseUrl, TOKENWATCH_DETECT: 'false' };
  try {
    const version = await serverVersion(ch);
    const results: DoorResult[] = [];

    // Raw baseline: the same rows the pipeline would build, straight into ClickHouse.
    const rawRows = rowsOf(makeEvents(N, 'raw'));
    const measureBaseline = async (db: string) => {
      await freshDatabase(ch, db, version);
      const rate = await insertRaw(ch, `${db}.events`, rawRows);
      log(`raw JSONEachRow baseline (${db}): ${Math.round(rate)} rows/s`);
      return rate;
    };

    /** A topic of 6 partitions holding N events, keyed tenant:subject. */
    const filledTopic = async (topic: string, prefix: string) => {
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
      await admin.disconnect();
      const producer = kafka.producer();
      await producer.connect();
      const events = makeEvents(N, prefix);
      for (let i = 0; i < N; i += 5000) {
        await producer.send({
          topic,
          acks: -1,
          messages: events
            .slice(i, i + 5000)
            .map((e) => ({ key: `acme:${e['subject']}`, value: JSON.stringify(e) })),
        });
      }
      await producer.disconnect();
    };

    // Kafka → ClickHouse: the topic holds N events before the service starts consuming.
    const kafkaDoor = async (round: number): Promise<DoorRun> => {
      const topic = `bench.events.${round}`;
      await filledTopic(topic, `k${round}`);
      const db = `bench_kafka_${round}`;
      await freshDatabase(ch, db, version);
      const service = await startService({
        ...baseEnv,
        TOKENWATCH_CLICKHOUSE_DATABASE: db,
        TOKENWATCH_KAFKA_BROKERS: stack.brokers,
        TOKENWATCH_KAFKA_TOPICS: topic,
        TOKENWATCH_KAFKA_GROUP_ID: `bench-${round}`,
        TOKENWATCH_KAFKA_TOPIC_PARTITIONS: '6',
      });
      // from ready on (consuming may have begun just before: a slight undercount)
      const cpu0 = cpuSeconds(service.child);
      const rate = await rateUntil(ch, `${db}.events`, N, log);
      const cpuUsPerEvent = ((cpuSeconds(service.child) - cpu0) / N) * 1e6;
      await stopService(service.child);
      return { eventsPerSecond: rate, cpuUsPerEvent };
    };

    // The peer: ClickHouse's own Kafka engine reading the same kind of topic into the same table
    // (stored as is: no validation, enrichment or dead letters). NaN where the server has no engine.
    const kafkaEngineDoor = async (round: number): Promise<DoorRun> => {
      const topic = `bench.engine.${round}`;
      await filledTopic(topic, `e${round}`);
      const db = `bench_engine_${round}`;
      await freshDatabase(ch, db, version);
      // timed from the engine's start: it stores in blocks of up to 65,536 rows, so its first row says little
      const t0 = performance.now();
      const stop = await startKafkaEngine(
        ch,
        kafka,
        { database: db, brokers: stack.brokers, topic, group: `bench-engine-${round}` },
        version,
      );
      if (stop === undefined) {
        log(`  ClickHouse ${version} has no Kafka table engine (built without librdkafka): round skipped`);
        return { eventsPerSecond: Number.NaN, cpuUsPerEvent: Number.NaN };
      }
      const rate = await rateUntil(ch, `${db}.events`, N, log, t0);
      await stop();
      // the engine's CPU is ClickHouse's, not a service's: not measured
      return { eventsPerSecond: rate, cpuUsPerEvent: Number.NaN };
    };

    // HTTP → ClickHouse (single process): 8 senders, each posting 1,000 NDJSON events at a time; a 200 means stored.
    const httpDoor = async (round: number): Promise<DoorRun> => {
      const db = `bench_http_${round}`;
      await freshDatabase(ch, db, version);
      const service = await startService({ ...baseEnv, TOKENWATCH_CLICKHOUSE_DATABASE: db });
      const bodies = ndjsonBodies(makeEvents(N, `h${round}`), HTTP_BATCH);
      const cpu0 = cpuSeconds(service.child);
      const t0 = performance.now();
      await postAll(service.url, bodies, HTTP_SENDERS);
      const rate = N / ((performance.now() - t0) / 1000);
      const cpuUsPerEvent = ((cpuSeconds(service.child) - cpu0) / N) * 1e6;
      if ((await count(ch, `${db}.events`)) !== N) throw new Error('HTTP bench: not every event was stored');
      await stopService(service.child);
      return { eventsPerSecond: rate, cpuUsPerEvent };
    };

    // HTTP → Kafka → ClickHouse: the HTTP door publishes (a 200 means Kafka has it), the consumer stores.
    const httpKafkaDoor = async (round: number): Promise<DoorRun> => {
      const db = `bench_http_kafka_${round}`;
      await freshDatabase(ch, db, version);
      const service = await startService({
        ...baseEnv,
        TOKENWATCH_CLICKHOUSE_DATABASE: db,
        TOKENWATCH_KAFKA_BROKERS: stack.brokers,
        TOKENWATCH_KAFKA_TOPICS: `bench.http.${round}`,
        TOKENWATCH_KAFKA_GROUP_ID: `bench-http-${round}`,
        TOKENWATCH_KAFKA_TOPIC_PARTITIONS: '6',
        TOKENWATCH_KAFKA_COMPRESSION: COMPRESSION,
        TOKENWATCH_RELAY_SECRET: RELAY_SECRET,
      });
      const bodies = ndjsonBodies(makeEvents(N, `hk${round}`), HTTP_BATCH);
      const cpu0 = cpuSeconds(service.child);
      const t0 = performance.now();
      await postAll(service.url, bodies, HTTP_SENDERS);
      await rateUntil(ch, `${db}.events`, N, log);
      const rate = N / ((performance.now() - t0) / 1000);
      const cpuUsPerEvent = ((cpuSeconds(service.child) - cpu0) / N) * 1e6;
      await stopService(service.child);
      return { eventsPerSecond: rate, cpuUsPerEvent };
    };

    // Each round: a baseline, then the door, back to back; the ratio of each pair, and the median over rounds.
    let dbSeq = 0;
    for (const [id, name, door] of [
      ['kafka', 'Kafka → ClickHouse', kafkaDoor],
      ['kafka-engine', ENGINE_DOOR, kafkaEngineDoor],
      ['http', 'HTTP → ClickHouse (single process)', httpDoor],
      ['http-kafka', 'HTTP → Kafka → ClickHouse', httpKafkaDoor],
    ] as const) {
      if (!DOORS.has(id)) continue;
      const rounds: Round[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const baseline = await measureBaseline(`bench_raw_${dbSeq++}`);
        log(`${name}, round ${round + 1}/${ROUNDS}`);
        const { eventsPerSecond, cpuUsPerEvent } = await door(dbSeq++);
        rounds.push({ eventsPerSecond, baseline, ratio: eventsPerSecond / baseline, cpuUsPerEvent });
        log(
          `  ${name}: ${Math.round(eventsPerSecond)} events/s, ratio ${(eventsPerSecond / baseline).toFixed(2)}, service CPU ${cpuUsPerEvent.toFixed(1)} µs/event`,
        );
      }
      results.push({ name, rounds });
    }

    report(results, machine(`ClickHouse ${version}, Kafka ${KAFKA_VERSION}`));
  } finally {
    await ch.close();
    await stack.stop();
  }
}

interface Round {
  eventsPerSecond: number;
  baseline: number;
  ratio: number;
  /** the service's CPU time (all threads) over the round, per event */
  cpuUsPerEvent: number;
}

interface DoorResult {
  name: string;
  rounds: Round[];
}

const medianOf = (r: DoorResult, k: keyof Round) => median(r.rounds.map((x) => x[k]));

/** tokenwatch's Kafka door beside the engine: the ratio of their ratios to the raw baseline (each the median of its rounds). */
function peerRatio(
  results: DoorResult[],
): { door: DoorResult; engine: DoorResult; ratio: number } | undefined {
  const door = results.find((r) => r.name === 'Kafka → ClickHouse');
  const engine = results.find((r) => r.name === ENGINE_DOOR);
  if (door === undefined || engine === undefined) return undefined;
  return { door, engine, ratio: medianOf(door, 'ratio') / medianOf(engine, 'ratio') };
}

const PEER_NOTE =
  'tokenwatch validates, enriches (geo) and dead-letters each event; the engine stores the messages as they are and does none of it';

/** Each door's events/s beside the raw insert baseline (medians of rounds; ratio: median of per-round ratios), and the Kafka door beside the engine. */
function headlines(results: DoorResult[]): Headline[] {
  const peer = peerRatio(results);
  const beside =
    peer === undefined
      ? []
      : [
          headline({
            figure: "Kafka → ClickHouse beside the database's own Kafka consumer",
            value: medianOf(peer.door, 'eventsPerSecond'),
            unit: 'events/s',
            baseline: "ClickHouse's Kafka engine + materialized view, same topic and table",
            baselineValue: medianOf(peer.engine, 'eventsPerSecond'),
            ratio: peer.ratio,
            note: `ratio of the two ratios to their rounds' raw baselines; ${PEER_NOTE}`,
          }),
        ];
  return [
    ...results.map((r) => {
      const of = (k: keyof Round) => median(r.rounds.map((x) => x[k]));
      return headline({
        figure: `${r.name} throughput`,
        value: of('eventsPerSecond'),
        unit: 'events/s',
        baseline: 'the same rows, raw JSONEachRow inserts',
        baselineValue: of('baseline'),
        ratio: of('ratio'),
        note:
          r.rounds.length === 1
            ? 'one round'
            : `medians of ${r.rounds.length} rounds; ratio: median of theirs`,
      });
    }),
    ...beside,
  ];
}

/** The sentence on tokenwatch's Kafka door beside the engine (or why there is no figure). */
function peerLines(results: DoorResult[]): string[] {
  const peer = peerRatio(results);
  if (peer === undefined) return [];
  if (!Number.isFinite(peer.ratio))
    return [
      "The peer (ClickHouse's Kafka engine) was not measured: this server has no Kafka table engine.",
      '',
    ];
  return [
    `**tokenwatch Kafka ingest / the database's own Kafka consumer: ${peer.ratio.toFixed(2)}** (the ratio of their ratios to the raw baseline). The peer: ClickHouse's Kafka table engine (one consumer, JSONEachRow) and a materialized view into the same events table, reading a topic of the same events, timed from the engine's start to the last stored row (it stores in blocks of up to 65,536 rows; the Kafka door from its first stored row to the last). ${PEER_NOTE}.`,
    '',
  ];
}

function report(results: DoorResult[], machine: string) {
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const fmt = (n: number) => Math.round(n).toLocaleString('en');
  const rows = results.map((r) => {
    const of = (k: keyof Round) => median(r.rounds.map((x) => x[k]));
    return `| ${r.name} | ${fmt(of('eventsPerSecond'))} | ${fmt(of('baseline'))} | ${of('ratio').toFixed(2)} | ${r.rounds.map((x) => x.ratio.toFixed(2)).join(', ')} | ${of('cpuUsPerEvent').toFixed(1)} |`;
  });
  const section = [
    '## Ingest',
    '',
    `\`npm run bench:ingest\` (BENCH_EVENTS=${N}, BENCH_ROUNDS=${ROUNDS}) on ${date} UTC; ${machine}; ClickHouse, Kafka and the service on the same machine.`,
    `HTTP: ${HTTP_SENDERS} concurrent senders, ${HTTP_BATCH} NDJSON events per request${COMPRESSION !== 'none' ? `; HTTP → Kafka with TOKENWATCH_KAFKA_COMPRESSION=${COMPRESSION}` : ''}; HTTP → Kafka ${RELAY_SECRET !== '' ? 'with relayed events signed (TOKENWATCH_RELAY_SECRET)' : 'unsigned (no TOKENWATCH_RELAY_SECRET)'}. Baseline: the same rows inserted straight into ClickHouse as JSONEachRow (10k rows per insert), measured just before the door in each round; ratio = door / its round's baseline. Service CPU: its user + system time (all threads) over the round, per event (Kafka → ClickHouse: from /readyz on) — steadier than events/s on a shared machine.`,
    '',
    '| door | events/s (median) | raw baseline rows/s (median) | ratio (median of rounds) | ratio per round | service CPU µs/event (median) |',
    '|---|---:|---:|---:|---|---:|',
    ...rows,
    '',
    ...peerLines(results),
  ].join('\n');
  console.log(`\n${section}`);
  writeResults('Ingest', section, 'ingest', {
    headline: headlines(results),
    date,
    machine,
    events: N,
    results,
  });
}

main().catch((err: Error) => {
  console.error(`bench:ingest failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
