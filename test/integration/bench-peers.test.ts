/**
 * The benchmarks' peers and baselines on the real servers: ClickHouse's own Kafka engine storing a
 * topic into the events table (bench:ingest's peer) on 18.16, its view on a current ClickHouse
 * engine (chdb), and the bare consumers of bench:capacity (kafkajs, @platformatic/kafka) reading
 * every message of a topic.
 */
import { pino } from 'pino';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { detectFeatures } from '../../platform/clickhouse/client.ts';
import { migrate } from '../../platform/clickhouse/migrate.ts';
import { kafkajsConsumer, measureBare, platformaticConsumer } from '../../tools/bench/bare-consumers.ts';
import { serverVersion } from '../../tools/bench/bench-database.ts';
import {
  type EventsColumn,
  queueStandInSql,
  startKafkaEngine,
  unfilled,
  viewSql,
} from '../../tools/bench/kafka-engine.ts';
import { chdb, chdbFeatures, schemaStatements } from '../support/chdb.ts';
import { clickhouse, kafkaClient, produce, queryRows, unique, waitUntil } from '../support/harness.ts';

const EVENT = {
  event_id: 'e1',
  type: 'refresh',
  time: 1_795_368_720_123,
  tenant: 'acme',
  source: 'auth',
  subject: 's1',
  ip: '85.214.132.117',
  outcome: 'rotated',
  reason: 'ok',
  aud: 'api',
  family_id: 'F1',
  token_id: 'R1',
  new_token_id: 'R2',
};
/** As the engine stores EVENT (time_ms in whole seconds: tools/bench/kafka-engine.ts says why). */
const STORED = {
  event_id: 'e1',
  type: 'refresh',
  time_ms: 1_795_368_720_000,
  aud: ['api'],
  family_id: 'F1',
  new_token_id: 'R2',
};

async function topicWith(values: Record<string, unknown>[]) {
  const topic = unique('bench.peer').replaceAll('_', '.');
  const kafka = kafkaClient();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  await produce(kafka, topic, values);
  return topic;
}

describe("ClickHouse's Kafka engine, bench:ingest's peer", () => {
  const ch = clickhouse();
  afterAll(() => ch.close());

  it('stores every message of the topic into the events table on 18.16', async () => {
    const database = unique('bench_engine');
    await migrate(
      ch,
      { database, cluster: '', retentionDays: 30 },
      await detectFeatures(ch),
      pino({ level: 'silent' }),
    );
    const events = [EVENT, ...Array.from({ length: 99 }, (_, i) => ({ ...EVENT, event_id: `e${i + 2}` }))];
    const topic = await topicWith(events);
    const stop = await startKafkaEngine(
      ch,
      kafkaClient(),
      { database, brokers: inject('kafkaBrokers'), topic, group: `${topic}-engine` },
      await serverVersion(ch),
    );
    expect(stop, 'this ClickHouse has no Kafka table engine').toBeDefined();
    try {
      await waitUntil(
        'the engine to store 100 rows',
        async () => {
          const [row] = await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${database}.events`);
          return Number(row?.n) === 100;
        },
        90_000,
      );
      const [row] = await queryRows<Record<string, unknown>>(
        ch,
        `SELECT event_id, type, toUInt64(time_ms) AS time_ms, aud, family_id, new_token_id, toUnixTimestamp(time) AS t FROM ${database}.events WHERE event_id = 'e1'`,
      );
      expect({ ...row, time_ms: Number(row?.['time_ms']), t: Number(row?.['t']) }).toEqual({
        ...STORED,
        t: 1_795_368_720,
      });
    } finally {
      await stop?.();
      await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    }
  });

  it('its view runs on a current ClickHouse engine (chdb; the queue a plain table there: chdb runs no Kafka engine)', async () => {
    const features = await chdbFeatures();
    const schema = schemaStatements({ database: 'tw', cluster: '', retentionDays: 30 }, features);
    const columns = await chdb(schema, [
      "SELECT name, type FROM system.columns WHERE database = 'tw' AND table = 'events'",
    ]);
    const report = await chdb(
      [
        ...schema,
        queueStandInSql('tw'),
        viewSql('tw', unfilled(columns.results.at(-1)!.rows as unknown as EventsColumn[])),
        `INSERT INTO tw.events_kafka_queue FORMAT JSONEachRow ${JSON.stringify(EVENT)}`,
      ],
      ['SELECT event_id, type, time_ms, aud, family_id, new_token_id FROM tw.events'],
    );
    const failed = report.results.filter((r) => !r.ok);
    expect(failed, JSON.stringify(failed, null, 2)).toEqual([]);
    const rows = report.results.at(-1)!.rows!;
    expect(rows.map((r) => ({ ...r, time_ms: Number(r['time_ms']) }))).toEqual([STORED]);
  });
});

describe("bench:capacity's bare consumers", () => {
  it('each reads and decodes every message of the topic, measured the same way', async () => {
    const topic = await topicWith(Array.from({ length: 3000 }, (_, i) => ({ ...EVENT, event_id: `b${i}` })));
    const brokers = inject('kafkaBrokers');
    for (const [run, consumer] of [kafkajsConsumer(brokers), platformaticConsumer(brokers)].entries()) {
      const r = await measureBare(consumer, topic, 3000, run);
      expect(r.events, consumer.client).toBe(3000);
      expect(r.eventsPerSecond, consumer.client).toBeGreaterThan(0);
      expect(r.cpuUsPerEvent, consumer.client).toBeGreaterThan(0);
    }
  });
});
