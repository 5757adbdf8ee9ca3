/**
 * The database's own Kafka consumer, the peer of tokenwatch's Kafka door in bench:ingest:
 * ClickHouse's Kafka table engine reading the events topic (JSONEachRow, one consumer) and a
 * materialized view storing each message into the events table as is — no validation, enrichment
 * or dead letters. 18.16 takes the engine's arguments positionally; current ClickHouse in SETTINGS.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';

/** The queue table's columns: the fields of the events on the topic, as they are written there. */
const QUEUE_COLUMNS = `(
  event_id String, type String, time UInt64, tenant String, source String, subject String,
  client_id String, session_id String, ip String, user_agent String, device_id String,
  outcome String, reason String, jti String, iss String, aud String, kid String, alg String,
  iat UInt64, exp UInt64, family_id String, token_id String, new_token_id String, access_jti String
)`;

export interface KafkaEngineTarget {
  database: string;
  brokers: string;
  topic: string;
  group: string;
}

/** Whether `version` (e.g. 18.16.1) is older than the Kafka engine's SETTINGS syntax (taken here as 20.1). */
export const positionalKafkaArguments = (version: string) => Number(version.split('.')[0]) < 20;

const quote = (s: string) => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

/** The Kafka engine table on the topic, in the syntax `version` understands. */
export function queueTableSql(t: KafkaEngineTarget, version: string): string {
  const engine = positionalKafkaArguments(version)
    ? `Kafka(${quote(t.brokers)}, ${quote(t.topic)}, ${quote(t.group)}, 'JSONEachRow')`
    : `Kafka SETTINGS kafka_broker_list = ${quote(t.brokers)}, kafka_topic_list = ${quote(t.topic)}, kafka_group_name = ${quote(t.group)}, kafka_format = 'JSONEachRow'`;
  return `CREATE TABLE ${t.database}.events_kafka_queue ${QUEUE_COLUMNS} ENGINE = ${engine}`;
}

/** A plain table with the queue's columns (for checking the view's SQL where no broker runs). */
export const queueStandInSql = (database: string) =>
  `CREATE TABLE ${database}.events_kafka_queue ${QUEUE_COLUMNS} ENGINE = Memory`;

/** A column of the events table. */
export interface EventsColumn {
  name: string;
  type: string;
}

/** The columns the views fill from the message (18.16 wants every other one of the table named too). */
const FILLED = new Set(
  `event_id type time time_ms received_at received_ms aud tenant source subject client_id session_id ip
  user_agent device_id outcome reason jti iss kid alg iat exp family_id token_id new_token_id access_jti`.split(
    /\s+/,
  ),
);

/** The events table's columns the message does not fill, from system.columns (name, type). */
export const unfilled = (columns: EventsColumn[]) => columns.filter((c) => !FILLED.has(c.name));

/** The empty value of a column the message does not fill: '' , 0, an empty list; throws for a type it does not know. */
export function emptyValue(c: EventsColumn): string {
  if (c.type === 'String') return "''";
  if (/^(U?Int(8|16|32|64)|Float(32|64))$/.test(c.type)) return `CAST(0 AS ${c.type})`;
  if (c.type === 'Array(String)') return 'emptyArrayString()';
  throw new Error(
    `bench:ingest's Kafka engine views: no empty value for events.${c.name} of type ${c.type}: add one to emptyValue in tools/bench/kafka-engine.ts`,
  );
}

/** The queue's columns stored as they are. */
const AS_THEY_ARE = `tenant, source, subject, client_id, session_id, ip, user_agent, device_id, outcome, reason,
  jti, iss, kid, alg, iat, exp, family_id, token_id, new_token_id, access_jti`;

/**
 * The view storing each message of the queue into the events table: every column of the table
 * named (18.16 fills none), the others empty. `time_ms` is the whole seconds of `time` × 1000: a
 * view that names an output `time` sees that alias wherever `time` is read (18.16 even named in
 * full), and 18.16 runs no view over a subquery or a chain of views from the Kafka engine.
 */
export const viewSql = (
  database: string,
  others: EventsColumn[],
) => `CREATE MATERIALIZED VIEW ${database}.events_kafka_mv TO ${database}.events
AS SELECT
  event_id,
  CAST(type AS Enum8('verification' = 1, 'refresh' = 2, 'issuance' = 3, 'revocation' = 4)) AS type,
  toDateTime(intDiv(time, 1000)) AS time,
  toUInt64(time) * 1000 AS time_ms,
  now() AS received_at,
  toUInt64(now()) * 1000 AS received_ms,
  arrayFilter(x -> x != '', [aud]) AS aud,
  ${AS_THEY_ARE}${others.map((c) => `,\n  ${emptyValue(c)} AS ${c.name}`).join('')}
FROM ${database}.events_kafka_queue`;

const DROPPED_IN_ORDER = ['events_kafka_mv', 'events_kafka_queue'];

/** Commits offset 0 of every partition of `topic` for `group` (which must have no members). */
async function groupAtTopicStart(kafka: Kafka, group: string, topic: string) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const partitions = (await admin.fetchTopicOffsets(topic)).map((p) => ({
      partition: p.partition,
      offset: '0',
    }));
    await admin.setOffsets({ groupId: group, topic, partitions });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Starts the engine consuming `t.topic` from its start into `t.database`.events (which must exist);
 * resolves to its stop (the view and the queue dropped). Resolves to undefined where the server has
 * no Kafka engine (built without librdkafka). The group's offsets are set to the topic's start
 * first: the engine (librdkafka's default) starts a new group at the topic's end.
 */
export async function startKafkaEngine(
  ch: ClickHouseClient,
  kafka: Kafka,
  t: KafkaEngineTarget,
  version: string,
): Promise<(() => Promise<void>) | undefined> {
  await groupAtTopicStart(kafka, t.group, t.topic);
  try {
    await ch.command({ query: queueTableSql(t, version) });
  } catch (err) {
    if (/unknown table engine/i.test((err as Error).message)) return undefined;
    throw err;
  }
  const rs = await ch.query({
    query: `SELECT name, type FROM system.columns WHERE database = '${t.database}' AND table = 'events'`,
    format: 'JSONEachRow',
  });
  await ch.command({ query: viewSql(t.database, unfilled(await rs.json<EventsColumn>())) });
  return async () => {
    for (const name of DROPPED_IN_ORDER)
      await ch.command({ query: `DROP TABLE IF EXISTS ${t.database}.${name}` });
  };
}
