/**
 * The ClickHouse schema as versioned migrations. Each migration renders to idempotent statements
 * for the server it runs on (18.16 and current ClickHouse) and for single-server or cluster mode.
 */
import type { ServerFeatures } from './client.ts';

export interface SchemaOptions {
  database: string;
  /** empty: single server; otherwise ON CLUSTER with Replicated* engines */
  cluster: string;
  retentionDays: number;
}

export interface Migration {
  version: number;
  name: string;
  statements: (o: SchemaOptions, f: ServerFeatures) => string[];
}

/** Tables whose rows expire after the retention period, with the column the period counts from. */
export const RETAINED_TABLES: readonly { table: string; timeColumn: string }[] = [
  { table: 'events', timeColumn: 'time' },
  { table: 'events_by_token', timeColumn: 'time' },
  { table: 'dead_letters', timeColumn: 'received_at' },
  { table: 'detections', timeColumn: 'detected_time' },
  { table: 'revocations', timeColumn: 'time' },
  { table: 'webhook_deliveries', timeColumn: 'time' },
  { table: 'revocation_notices', timeColumn: 'time' },
  { table: 'events_per_minute', timeColumn: 'minute' },
  { table: 'ingest_per_minute', timeColumn: 'minute' },
  { table: 'dead_letters_per_minute', timeColumn: 'minute' },
];

export const onCluster = (o: SchemaOptions) => (o.cluster === '' ? '' : ` ON CLUSTER ${o.cluster}`);

type EngineKind = 'ReplacingMergeTree' | 'MergeTree' | 'SummingMergeTree' | 'AggregatingMergeTree';

/** `ReplacingMergeTree()` (or another kind, with its arguments) or its replicated twin in cluster mode. */
export function engine(o: SchemaOptions, kind: EngineKind, table: string, args = ''): string {
  if (o.cluster === '') return `${kind}(${args})`;
  const replicated = `'/clickhouse/tables/{shard}/${o.database}/${table}', '{replica}'`;
  return `Replicated${kind}(${replicated}${args === '' ? '' : `, ${args}`})`;
}

export function ttlClause(o: SchemaOptions, f: ServerFeatures, timeColumn: string): string {
  return f.ttl ? `\nTTL ${timeColumn} + INTERVAL ${o.retentionDays} DAY` : '';
}

const addColumn = (f: ServerFeatures) => (f.addColumnIfNotExists ? 'ADD COLUMN IF NOT EXISTS' : 'ADD COLUMN');

const retention = (table: string) => RETAINED_TABLES.find((t) => t.table === table)!.timeColumn;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'events',
    statements: (o, f) => [
      `CREATE TABLE IF NOT EXISTS ${o.database}.events${onCluster(o)}
(
  event_id String,
  type Enum8('verification' = 1, 'refresh' = 2, 'issuance' = 3, 'revocation' = 4),
  time DateTime,
  time_ms UInt64,
  received_at DateTime,
  received_ms UInt64,
  tenant String,
  source String,
  subject String,
  client_id String,
  session_id String,
  ip String,
  user_agent String,
  device_id String,
  outcome String,
  reason String,
  jti String,
  iss String,
  aud Array(String),
  kid String,
  alg String,
  iat UInt64,
  exp UInt64,
  family_id String,
  token_id String,
  new_token_id String,
  access_jti String,
  country String,
  region String,
  city String,
  lat Float64,
  lon Float64,
  geo_radius_km UInt32,
  extra String
)
ENGINE = ${engine(o, 'ReplacingMergeTree', 'events')}
PARTITION BY toYYYYMMDD(time)
ORDER BY (tenant, subject, time, event_id)${ttlClause(o, f, retention('events'))}`,
    ],
  },
  {
    version: 2,
    name: 'events_by_token',
    statements: (o, f) => [
      `CREATE TABLE IF NOT EXISTS ${o.database}.events_by_token${onCluster(o)}
(
  tenant String,
  token_kind Enum8('jti' = 1, 'family' = 2, 'refresh_token' = 3, 'session' = 4),
  token String,
  time DateTime,
  time_ms UInt64,
  event_id String,
  subject String,
  type Enum8('verification' = 1, 'refresh' = 2, 'issuance' = 3, 'revocation' = 4)
)
ENGINE = ${engine(o, 'ReplacingMergeTree', 'events_by_token')}
PARTITION BY toYYYYMMDD(time)
ORDER BY (tenant, token_kind, token, time, event_id)${ttlClause(o, f, retention('events_by_token'))}`,
      // One row per token id an event mentions: per-token lookups without scanning every subject.
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${o.database}.events_by_token_mv${onCluster(o)}
TO ${o.database}.events_by_token
AS SELECT
  tenant,
  CAST(pair.1 AS Enum8('jti' = 1, 'family' = 2, 'refresh_token' = 3, 'session' = 4)) AS token_kind,
  pair.2 AS token,
  time, time_ms, event_id, subject, type
FROM ${o.database}.events
ARRAY JOIN arrayFilter(p -> p.2 != '', [('jti', jti), ('jti', access_jti), ('family', family_id),
  ('refresh_token', token_id), ('refresh_token', new_token_id), ('session', session_id)]) AS pair`,
    ],
  },
  {
    version: 3,
    name: 'dead_letters',
    statements: (o, f) => [
      `CREATE TABLE IF NOT EXISTS ${o.database}.dead_letters${onCluster(o)}
(
  letter_id String,
  received_at DateTime,
  received_ms UInt64,
  door Enum8('http' = 1, 'kafka' = 2),
  tenant String,
  origin String,
  event_index Int32,
  event_id String,
  code String,
  message String,
  field String,
  payload String,
  payload_bytes UInt32,
  truncated UInt8
)
ENGINE = ${engine(o, 'ReplacingMergeTree', 'dead_letters')}
PARTITION BY toYYYYMMDD(received_at)
ORDER BY (code, letter_id)${ttlClause(o, f, retention('dead_letters'))}`,
    ],
  },
  {
    version: 4,
    name: 'dead_letters_door_clickhouse',
    // Rows ClickHouse itself refuses at insert are dead-lettered with door 'clickhouse'.
    statements: (o) => [
      `ALTER TABLE ${o.database}.dead_letters${onCluster(o)} MODIFY COLUMN door Enum8('http' = 1, 'kafka' = 2, 'clickhouse' = 3)`,
    ],
  },
  {
    version: 5,
    name: 'detections',
    // One row per finding; a finding found again (a redelivered event) has the same id and sort
    // key, and collapses. `detected_time` is the misuse's event time, `found_at` the wall clock.
    statements: (o, f) => [
      `CREATE TABLE IF NOT EXISTS ${o.database}.detections${onCluster(o)}
(
  detection_id String,
  detector Enum8('refresh_replay' = 1, 'impossible_travel' = 2, 'device_reuse' = 3, 'verification_anomaly' = 4),
  kind String,
  severity Enum8('low' = 1, 'medium' = 2, 'high' = 3, 'critical' = 4),
  confidence Float32,
  action Enum8('revoke_family' = 1, 'revoke_jti' = 2, 'alert_only' = 3),
  dry_run UInt8,
  tenant String,
  subject String,
  target_kind String,
  target_id String,
  jti String,
  family_id String,
  session_id String,
  event_ids Array(String),
  evidence String,
  trigger_event_id String,
  first_event_time DateTime,
  first_event_ms UInt64,
  detected_time DateTime,
  detected_ms UInt64,
  found_at DateTime,
  found_at_ms UInt64
)
ENGINE = ${engine(o, 'ReplacingMergeTree', 'detections')}
PARTITION BY toYYYYMMDD(detected_time)
ORDER BY (tenant, detected_time, detection_id)${ttlClause(o, f, retention('detections'))}`,
    ],
  },
  {
    version: 6,
    name: 'response',
    // What the response stage decided for each detection; every revocation decision and attempt
    // (the outbox: a `pending` row is stored before the auth API is called, and a restart resumes
    // targets whose latest row is pending or retrying); every alert webhook delivery attempt.
    // (18.16 has no ADD COLUMN IF NOT EXISTS: there migrate() treats "already exists" as applied.)
    statements: (o, f) => [
      `ALTER TABLE ${o.database}.detections${onCluster(o)} ${addColumn(f)} response String DEFAULT ''`,
      `ALTER TABLE ${o.database}.detections${onCluster(o)} ${addColumn(f)} revocation_id String DEFAULT ''`,
      `CREATE TABLE IF NOT EXISTS ${o.database}.revocations${onCluster(o)}
(
  revocation_id String,
  tenant String,
  subject String,
  target_kind Enum8('jti' = 1, 'family' = 2, 'session' = 3, 'subject' = 4),
  target_id String,
  status Enum8('pending' = 1, 'retrying' = 2, 'done' = 3, 'not_found' = 4, 'failed' = 5, 'dry_run' = 6, 'suppressed' = 7),
  attempt UInt16,
  http_status UInt16,
  latency_ms UInt32,
  error String,
  detection_id String,
  detector String,
  severity String,
  reason String,
  expires_ms UInt64,
  detected_ms UInt64,
  decided_ms UInt64,
  time DateTime,
  time_ms UInt64
)
ENGINE = ${engine(o, 'MergeTree', 'revocations')}
PARTITION BY toYYYYMMDD(time)
ORDER BY (tenant, time, revocation_id, time_ms)${ttlClause(o, f, retention('revocations'))}`,
      `CREATE TABLE IF NOT EXISTS ${o.database}.webhook_deliveries${onCluster(o)}
(
  delivery_id String,
  target String,
  format String,
  group_key String,
  alerts UInt32,
  attempt UInt16,
  status Enum8('delivered' = 1, 'retrying' = 2, 'failed' = 3),
  http_status UInt16,
  latency_ms UInt32,
  error String,
  time DateTime,
  time_ms UInt64
)
ENGINE = ${engine(o, 'MergeTree', 'webhook_deliveries')}
PARTITION BY toYYYYMMDD(time)
ORDER BY (target, time, delivery_id, attempt)${ttlClause(o, f, retention('webhook_deliveries'))}`,
    ],
  },
  {
    version: 7,
    name: 'revocation_notices',
    // Every revocation notice, for verifiers that poll GET /v1/revocations instead of following the
    // Kafka topic. `seq` is the polling cursor: published_ms * 1000 + the notice's index in its
    // insert, increasing per publishing instance (response/notices/clickhouse-notices.ts). `time` is when it was
    // published: rows expire with the retention like every table, so the retention must outlast
    // the longest notice (a family's 14 days by default).
    statements: (o, f) => [
      `CREATE TABLE IF NOT EXISTS ${o.database}.revocation_notices${onCluster(o)}
(
  seq UInt64,
  tenant String,
  subject String,
  target Enum8('jti' = 1, 'family' = 2, 'session' = 3, 'subject' = 4),
  id String,
  revocation_id String,
  via_target String,
  via_id String,
  detection_id String,
  detector String,
  expires_ms UInt64,
  revoked_ms UInt64,
  published_ms UInt64,
  time DateTime
)
ENGINE = ${engine(o, 'MergeTree', 'revocation_notices')}
PARTITION BY toYYYYMMDD(time)
ORDER BY (tenant, seq)${ttlClause(o, f, retention('revocation_notices'))}`,
    ],
  },
  {
    version: 8,
    name: 'rollups',
    // Minute-level rollups the overview dashboard reads instead of the raw tables, each filled by a
    // materialized view as rows are inserted and backfilled once from the rows received before the
    // view existed. Counts are of inserted rows: an event stored twice (redelivered before the
    // events table collapsed it) counts twice here. The detections get their evidence's places as
    // arrays (aligned with event_ids) for the top-IP/country panels and the impossible-travel map.
    statements: (o, f) => [
      ...['evidence_ips', 'evidence_countries', 'evidence_cities'].map(
        (c) => `ALTER TABLE ${o.database}.detections${onCluster(o)} ${addColumn(f)} ${c} Array(String)`,
      ),
      ...['evidence_lats', 'evidence_lons'].map(
        (c) => `ALTER TABLE ${o.database}.detections${onCluster(o)} ${addColumn(f)} ${c} Array(Float64)`,
      ),
      `ALTER TABLE ${o.database}.detections${onCluster(o)} ${addColumn(f)} evidence_times_ms Array(UInt64)`,
      ...rollup(o, f, {
        table: 'events_per_minute',
        // by event time: what happened in that minute
        columns: `minute DateTime,
  tenant String,
  source String,
  type Enum8('verification' = 1, 'refresh' = 2, 'issuance' = 3, 'revocation' = 4),
  outcome String,
  reason String,
  events UInt64`,
        engine: engine(o, 'SummingMergeTree', 'events_per_minute', '(events)'),
        orderBy: 'tenant, minute, source, type, outcome, reason',
        select: `SELECT toStartOfMinute(time) AS minute, tenant, source, type, outcome, reason, count() AS events
FROM ${o.database}.events`,
        groupBy: 'minute, tenant, source, type, outcome, reason',
        receivedMs: 'received_ms',
      }),
      ...rollup(o, f, {
        table: 'ingest_per_minute',
        // by arrival time: how much arrived and how late (lag quantiles as t-digest states: a quarter
        // the size of quantiles' reservoir, and cheaper to merge over a week of minutes)
        columns: `minute DateTime,
  tenant String,
  source String,
  events AggregateFunction(count),
  lag_ms AggregateFunction(quantilesTDigest(0.5, 0.9, 0.99), UInt64),
  max_lag_ms AggregateFunction(max, UInt64)`,
        engine: engine(o, 'AggregatingMergeTree', 'ingest_per_minute'),
        orderBy: 'tenant, minute, source',
        select: `SELECT toStartOfMinute(received_at) AS minute, tenant, source, countState() AS events,
  quantilesTDigestState(0.5, 0.9, 0.99)(toUInt64(if(received_ms > time_ms, received_ms - time_ms, 0))) AS lag_ms,
  maxState(toUInt64(if(received_ms > time_ms, received_ms - time_ms, 0))) AS max_lag_ms
FROM ${o.database}.events`,
        groupBy: 'minute, tenant, source',
        receivedMs: 'received_ms',
      }),
      ...rollup(o, f, {
        table: 'dead_letters_per_minute',
        columns: `minute DateTime,
  tenant String,
  door Enum8('http' = 1, 'kafka' = 2, 'clickhouse' = 3),
  code String,
  letters UInt64`,
        engine: engine(o, 'SummingMergeTree', 'dead_letters_per_minute', '(letters)'),
        orderBy: 'tenant, minute, door, code',
        select: `SELECT toStartOfMinute(received_at) AS minute, tenant, door, code, count() AS letters
FROM ${o.database}.dead_letters`,
        groupBy: 'minute, tenant, door, code',
        receivedMs: 'received_ms',
      }),
    ],
  },
  {
    version: 9,
    name: 'detector names are text',
    // The detectors are a registry (detectors/registry.ts): a new one is a file and a registry line,
    // and no list of names in SQL has to follow it.
    statements: (o) => [`ALTER TABLE ${o.database}.detections${onCluster(o)} MODIFY COLUMN detector String`],
  },
  {
    version: 10,
    name: 'events_kafka_partition',
    // Which partition of the events topic each event's `tenant:subject` belongs to (murmur2 of the
    // key, as kafkajs and the Java client place it, and as the detectors own subjects), among how
    // many: a detector given partitions rebuilds the state of those alone (detectors/run/history.ts).
    // 0 partitions: not known (stored before this column, or by a single process without Kafka).
    statements: (o, f) => [
      `ALTER TABLE ${o.database}.events${onCluster(o)} ${addColumn(f)} kafka_partition UInt16 DEFAULT 0`,
      `ALTER TABLE ${o.database}.events${onCluster(o)} ${addColumn(f)} kafka_partitions UInt16 DEFAULT 0`,
    ],
  },
  {
    version: 11,
    name: 'reporters',
    // Who reported each event (the sending key's id — a digest prefix, never the key —, its role
    // and the door), and who reported each detection's evidence (aligned with event_ids): the
    // response stage revokes only on the auth server's facts or on independent reporters.
    // Rows stored before have '' (unknown reporter, treated like a key without a role).
    statements: (o, f) => [
      ...['reporter_id', 'reporter_role', 'reporter_door'].map(
        (c) => `ALTER TABLE ${o.database}.events${onCluster(o)} ${addColumn(f)} ${c} String DEFAULT ''`,
      ),
      ...['evidence_reporters', 'evidence_roles'].map(
        (c) => `ALTER TABLE ${o.database}.detections${onCluster(o)} ${addColumn(f)} ${c} Array(String)`,
      ),
    ],
  },
  {
    version: 12,
    name: 'denylist-only revocations',
    // An auth server that cannot revoke a target (Keycloak: one access token) records it as
    // `denylist_only`: the verifiers' denylists are all that stops it. Adding an Enum8 value is a
    // metadata change (no rewrite), on 18.16 too.
    statements: (o) => [
      `ALTER TABLE ${o.database}.revocations${onCluster(o)} MODIFY COLUMN status Enum8('pending' = 1, 'retrying' = 2, 'done' = 3, 'not_found' = 4, 'failed' = 5, 'dry_run' = 6, 'suppressed' = 7, 'denylist_only' = 8)`,
    ],
  },
  {
    version: 13,
    name: 'events_network',
    // What the address says beyond its place (ingest/ipintel/): its autonomous system and holder,
    // and its network kind (hosting, anonymizer, mobile, residential, satellite; '' unknown) where a source
    // the operator supplied says it. Rows stored before, or without such sources: 0 and ''.
    // One ALTER for the three: one distributed DDL ON CLUSTER instead of three (each waits for every replica).
    statements: (o, f) => [
      `ALTER TABLE ${o.database}.events${onCluster(o)} ${[
        'asn UInt32 DEFAULT 0',
        "as_org String DEFAULT ''",
        "network_kind String DEFAULT ''",
      ]
        .map((c) => `${addColumn(f)} ${c}`)
        .join(', ')}`,
    ],
  },
  {
    version: 14,
    name: 'key binding',
    // Sender-constrained tokens (DPoP, RFC 9449; mTLS, RFC 8705): what the token is bound to
    // (`dpop` / `mtls`), the bound key's thumbprint (cnf.jkt / cnf["x5t#S256"]) and the thumbprint of
    // the key that proved possession on the request. '' when not bound or not reported.
    // One ALTER for the three, as in migration 13.
    statements: (o, f) => [
      `ALTER TABLE ${o.database}.events${onCluster(o)} ${[
        'bound_key_kind',
        'bound_key_thumbprint',
        'proof_key_thumbprint',
      ]
        .map((c) => `${addColumn(f)} ${c} String DEFAULT ''`)
        .join(', ')}`,
    ],
  },
  {
    version: 15,
    name: 'device id source',
    // Where device_id came from: `claim` / `auth_server` (the auth server vouches: strong),
    // `header` / `cookie` (the client sent it: weak). '' when unknown (rows stored before: unknown).
    statements: (o, f) => [
      `ALTER TABLE ${o.database}.events${onCluster(o)} ${addColumn(f)} device_id_source String DEFAULT ''`,
    ],
  },
];

interface Rollup {
  table: string;
  columns: string;
  engine: string;
  orderBy: string;
  /** the view's SELECT … FROM source, without WHERE or GROUP BY */
  select: string;
  groupBy: string;
  /** the source's arrival column (epoch ms): the backfill takes the rows that arrived before the view */
  receivedMs: string;
}

/**
 * A rollup table, the view that fills it, and a one-time backfill of what arrived before the view
 * existed (cut at the view's creation second, so rows in flight during the migration may count
 * twice or not at all; a migration interrupted after the backfill and re-run counts history twice).
 */
function rollup(o: SchemaOptions, f: ServerFeatures, r: Rollup): string[] {
  const view = `${r.table}_mv`;
  const backfill = `INSERT INTO ${o.database}.${r.table}
${r.select}
WHERE ${r.receivedMs} < (SELECT toUInt64(toUnixTimestamp(max(metadata_modification_time))) * 1000
  FROM system.tables WHERE database = '${o.database}' AND name = '${view}')
GROUP BY ${r.groupBy}`;
  return [
    `CREATE TABLE IF NOT EXISTS ${o.database}.${r.table}${onCluster(o)}
(
  ${r.columns}
)
ENGINE = ${r.engine}
PARTITION BY toYYYYMMDD(minute)
ORDER BY (${r.orderBy})${ttlClause(o, f, retention(r.table))}`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${o.database}.${view}${onCluster(o)}
TO ${o.database}.${r.table}
AS ${r.select}
GROUP BY ${r.groupBy}`,
    // On a cluster each shard holds its own events: the backfill is run per shard by hand (docs/clickhouse-cluster.md).
    ...(o.cluster === '' ? [backfill] : []),
  ];
}

export const MIGRATIONS_TABLE_SQL = (
  o: SchemaOptions,
) => `CREATE TABLE IF NOT EXISTS ${o.database}.schema_migrations${onCluster(o)}
(
  version UInt32,
  name String,
  checksum String,
  applied_at DateTime
)
ENGINE = ${engine(o, 'ReplacingMergeTree', 'schema_migrations')}
ORDER BY version`;
