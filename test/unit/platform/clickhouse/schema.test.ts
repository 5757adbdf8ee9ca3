import { describe, expect, it } from 'vitest';
import { featuresOf, type ServerFeatures } from '../../../../platform/clickhouse/client.ts';
import {
  engine,
  MIGRATIONS,
  MIGRATIONS_TABLE_SQL,
  onCluster,
  RETAINED_TABLES,
  type SchemaOptions,
  ttlClause,
} from '../../../../platform/clickhouse/schema.ts';

const SINGLE: SchemaOptions = { database: 'tw', cluster: '', retentionDays: 90 };
const CLUSTER: SchemaOptions = { database: 'tw', cluster: 'prod', retentionDays: 30 };
const OLD = featuresOf('18.16.1');
const CURRENT = featuresOf('24.8.1.1');

const render = (o: SchemaOptions, f: ServerFeatures) => MIGRATIONS.flatMap((m) => m.statements(o, f));

describe('featuresOf', () => {
  it.each([
    ['18.16.1', 18, 16, false],
    ['19.5.4.22', 19, 5, false],
    ['19.6.1', 19, 6, true],
    ['19.17.4.11', 19, 17, true],
    ['20.1', 20, 1, true],
    ['24.8.1.1', 24, 8, true],
  ])('%s → %d.%d, ttl %s', (version, major, minor, ttl) => {
    expect(featuresOf(version)).toStrictEqual({
      version,
      major,
      minor,
      ttl,
      addColumnIfNotExists: major >= 20,
    });
  });
});

describe('schema helpers', () => {
  it('onCluster', () => {
    expect(onCluster(SINGLE)).toBe('');
    expect(onCluster(CLUSTER)).toBe(' ON CLUSTER prod');
  });

  it('engine', () => {
    expect(engine(SINGLE, 'ReplacingMergeTree', 'events')).toBe('ReplacingMergeTree()');
    expect(engine(SINGLE, 'MergeTree', 'events')).toBe('MergeTree()');
    expect(engine(CLUSTER, 'ReplacingMergeTree', 'events')).toBe(
      "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tw/events', '{replica}')",
    );
    expect(engine(CLUSTER, 'MergeTree', 'x')).toBe(
      "ReplicatedMergeTree('/clickhouse/tables/{shard}/tw/x', '{replica}')",
    );
  });

  it('ttlClause', () => {
    expect(ttlClause(SINGLE, CURRENT, 'time')).toBe('\nTTL time + INTERVAL 90 DAY');
    expect(ttlClause(CLUSTER, CURRENT, 'received_at')).toBe('\nTTL received_at + INTERVAL 30 DAY');
    expect(ttlClause(SINGLE, OLD, 'time')).toBe('');
  });
});

describe('MIGRATIONS', () => {
  it('are numbered 1.. in order with their names', () => {
    expect(MIGRATIONS.map((m) => [m.version, m.name])).toStrictEqual([
      [1, 'events'],
      [2, 'events_by_token'],
      [3, 'dead_letters'],
      [4, 'dead_letters_door_clickhouse'],
      [5, 'detections'],
      [6, 'response'],
      [7, 'revocation_notices'],
      [8, 'rollups'],
      [9, 'detector names are text'],
      [10, 'events_kafka_partition'],
      [11, 'reporters'],
      [12, 'denylist-only revocations'],
      [13, 'events_network'],
      [14, 'key binding'],
      [15, 'device id source'],
    ]);
  });

  it('single server, current ClickHouse: plain engines, no ON CLUSTER, TTL on every retained table', () => {
    const statements = render(SINGLE, CURRENT);
    expect(statements.map((s) => s.split('\n')[0])).toStrictEqual([
      'CREATE TABLE IF NOT EXISTS tw.events',
      'CREATE TABLE IF NOT EXISTS tw.events_by_token',
      'CREATE MATERIALIZED VIEW IF NOT EXISTS tw.events_by_token_mv',
      'CREATE TABLE IF NOT EXISTS tw.dead_letters',
      "ALTER TABLE tw.dead_letters MODIFY COLUMN door Enum8('http' = 1, 'kafka' = 2, 'clickhouse' = 3)",
      'CREATE TABLE IF NOT EXISTS tw.detections',
      "ALTER TABLE tw.detections ADD COLUMN IF NOT EXISTS response String DEFAULT ''",
      "ALTER TABLE tw.detections ADD COLUMN IF NOT EXISTS revocation_id String DEFAULT ''",
      'CREATE TABLE IF NOT EXISTS tw.revocations',
      'CREATE TABLE IF NOT EXISTS tw.webhook_deliveries',
      'CREATE TABLE IF NOT EXISTS tw.revocation_notices',
      ...['ips', 'countries', 'cities'].map(
        (c) => `ALTER TABLE tw.detections ADD COLUMN IF NOT EXISTS evidence_${c} Array(String)`,
      ),
      ...['lats', 'lons'].map(
        (c) => `ALTER TABLE tw.detections ADD COLUMN IF NOT EXISTS evidence_${c} Array(Float64)`,
      ),
      'ALTER TABLE tw.detections ADD COLUMN IF NOT EXISTS evidence_times_ms Array(UInt64)',
      ...['events_per_minute', 'ingest_per_minute', 'dead_letters_per_minute'].flatMap((t) => [
        `CREATE TABLE IF NOT EXISTS tw.${t}`,
        `CREATE MATERIALIZED VIEW IF NOT EXISTS tw.${t}_mv`,
        `INSERT INTO tw.${t}`,
      ]),
      'ALTER TABLE tw.detections MODIFY COLUMN detector String',
      'ALTER TABLE tw.events ADD COLUMN IF NOT EXISTS kafka_partition UInt16 DEFAULT 0',
      'ALTER TABLE tw.events ADD COLUMN IF NOT EXISTS kafka_partitions UInt16 DEFAULT 0',
      ...['reporter_id', 'reporter_role', 'reporter_door'].map(
        (c) => `ALTER TABLE tw.events ADD COLUMN IF NOT EXISTS ${c} String DEFAULT ''`,
      ),
      ...['reporters', 'roles'].map(
        (c) => `ALTER TABLE tw.detections ADD COLUMN IF NOT EXISTS evidence_${c} Array(String)`,
      ),
      `ALTER TABLE tw.revocations MODIFY COLUMN status Enum8('pending' = 1, 'retrying' = 2, 'done' = 3, 'not_found' = 4, 'failed' = 5, 'dry_run' = 6, 'suppressed' = 7, 'denylist_only' = 8)`,
      "ALTER TABLE tw.events ADD COLUMN IF NOT EXISTS asn UInt32 DEFAULT 0, ADD COLUMN IF NOT EXISTS as_org String DEFAULT '', ADD COLUMN IF NOT EXISTS network_kind String DEFAULT ''",
      "ALTER TABLE tw.events ADD COLUMN IF NOT EXISTS bound_key_kind String DEFAULT '', ADD COLUMN IF NOT EXISTS bound_key_thumbprint String DEFAULT '', ADD COLUMN IF NOT EXISTS proof_key_thumbprint String DEFAULT ''",
      "ALTER TABLE tw.events ADD COLUMN IF NOT EXISTS device_id_source String DEFAULT ''",
    ]);
    for (const s of statements) {
      expect(s).not.toContain('ON CLUSTER');
      expect(s).not.toContain('Replicated');
    }
    const [events, byToken, view, deadLetters] = statements;
    expect(events).toContain('\nENGINE = ReplacingMergeTree()\nPARTITION BY toYYYYMMDD(time)\n');
    expect(events).toMatch(/\nORDER BY \(tenant, subject, time, event_id\)\nTTL time \+ INTERVAL 90 DAY$/);
    expect(byToken).toMatch(
      /\nORDER BY \(tenant, token_kind, token, time, event_id\)\nTTL time \+ INTERVAL 90 DAY$/,
    );
    expect(deadLetters).toContain('\nPARTITION BY toYYYYMMDD(received_at)\n');
    expect(deadLetters).toMatch(/\nORDER BY \(code, letter_id\)\nTTL received_at \+ INTERVAL 90 DAY$/);
    const detections = statements[5];
    expect(detections).toContain('\nPARTITION BY toYYYYMMDD(detected_time)\n');
    expect(detections).toMatch(
      /\nORDER BY \(tenant, detected_time, detection_id\)\nTTL detected_time \+ INTERVAL 90 DAY$/,
    );
    for (const [i, table] of [
      [8, 'revocations'],
      [9, 'webhook_deliveries'],
      [10, 'revocation_notices'],
    ] as const) {
      expect(statements[i]).toContain('\nENGINE = MergeTree()\nPARTITION BY toYYYYMMDD(time)\n');
      expect(statements[i], table).toMatch(/\nTTL time \+ INTERVAL 90 DAY$/);
    }
    // The polling cursor is the sort key within a tenant: GET /v1/revocations reads a range of it.
    expect(statements[10]).toMatch(/\nORDER BY \(tenant, seq\)\nTTL /);
    expect(view).toContain('\nTO tw.events_by_token\n');
    expect(view).toContain('\nFROM tw.events\n');
    expect(view).not.toContain('TTL');
    expect(view).not.toContain('ENGINE');
  });

  it('single server, ClickHouse 18.16: no TTL anywhere, plain ADD COLUMN', () => {
    expect(render(SINGLE, OLD).filter((s) => s.includes('ADD COLUMN'))).toStrictEqual([
      "ALTER TABLE tw.detections ADD COLUMN response String DEFAULT ''",
      "ALTER TABLE tw.detections ADD COLUMN revocation_id String DEFAULT ''",
      ...['ips', 'countries', 'cities'].map(
        (c) => `ALTER TABLE tw.detections ADD COLUMN evidence_${c} Array(String)`,
      ),
      ...['lats', 'lons'].map((c) => `ALTER TABLE tw.detections ADD COLUMN evidence_${c} Array(Float64)`),
      'ALTER TABLE tw.detections ADD COLUMN evidence_times_ms Array(UInt64)',
      'ALTER TABLE tw.events ADD COLUMN kafka_partition UInt16 DEFAULT 0',
      'ALTER TABLE tw.events ADD COLUMN kafka_partitions UInt16 DEFAULT 0',
      ...['reporter_id', 'reporter_role', 'reporter_door'].map(
        (c) => `ALTER TABLE tw.events ADD COLUMN ${c} String DEFAULT ''`,
      ),
      ...['reporters', 'roles'].map(
        (c) => `ALTER TABLE tw.detections ADD COLUMN evidence_${c} Array(String)`,
      ),
      "ALTER TABLE tw.events ADD COLUMN asn UInt32 DEFAULT 0, ADD COLUMN as_org String DEFAULT '', ADD COLUMN network_kind String DEFAULT ''",
      "ALTER TABLE tw.events ADD COLUMN bound_key_kind String DEFAULT '', ADD COLUMN bound_key_thumbprint String DEFAULT '', ADD COLUMN proof_key_thumbprint String DEFAULT ''",
      "ALTER TABLE tw.events ADD COLUMN device_id_source String DEFAULT ''",
    ]);
  });

  it('single server, ClickHouse 18.16: no TTL anywhere', () => {
    const [events, byToken, , deadLetters] = render(SINGLE, OLD);
    expect(events).toMatch(/\nORDER BY \(tenant, subject, time, event_id\)$/);
    expect(byToken).toMatch(/\nORDER BY \(tenant, token_kind, token, time, event_id\)$/);
    expect(deadLetters).toMatch(/\nORDER BY \(code, letter_id\)$/);
    for (const s of render(SINGLE, OLD)) expect(s).not.toContain('TTL');
  });

  it('cluster: ON CLUSTER on every statement and replicated engines with a per-table path', () => {
    const statements = render(CLUSTER, CURRENT);
    expect(statements.map((s) => s.split('\n')[0])).toStrictEqual([
      'CREATE TABLE IF NOT EXISTS tw.events ON CLUSTER prod',
      'CREATE TABLE IF NOT EXISTS tw.events_by_token ON CLUSTER prod',
      'CREATE MATERIALIZED VIEW IF NOT EXISTS tw.events_by_token_mv ON CLUSTER prod',
      'CREATE TABLE IF NOT EXISTS tw.dead_letters ON CLUSTER prod',
      "ALTER TABLE tw.dead_letters ON CLUSTER prod MODIFY COLUMN door Enum8('http' = 1, 'kafka' = 2, 'clickhouse' = 3)",
      'CREATE TABLE IF NOT EXISTS tw.detections ON CLUSTER prod',
      "ALTER TABLE tw.detections ON CLUSTER prod ADD COLUMN IF NOT EXISTS response String DEFAULT ''",
      "ALTER TABLE tw.detections ON CLUSTER prod ADD COLUMN IF NOT EXISTS revocation_id String DEFAULT ''",
      'CREATE TABLE IF NOT EXISTS tw.revocations ON CLUSTER prod',
      'CREATE TABLE IF NOT EXISTS tw.webhook_deliveries ON CLUSTER prod',
      'CREATE TABLE IF NOT EXISTS tw.revocation_notices ON CLUSTER prod',
      ...['ips', 'countries', 'cities'].map(
        (c) =>
          `ALTER TABLE tw.detections ON CLUSTER prod ADD COLUMN IF NOT EXISTS evidence_${c} Array(String)`,
      ),
      ...['lats', 'lons'].map(
        (c) =>
          `ALTER TABLE tw.detections ON CLUSTER prod ADD COLUMN IF NOT EXISTS evidence_${c} Array(Float64)`,
      ),
      'ALTER TABLE tw.detections ON CLUSTER prod ADD COLUMN IF NOT EXISTS evidence_times_ms Array(UInt64)',
      // no backfill on a cluster: each shard's is run by hand
      ...['events_per_minute', 'ingest_per_minute', 'dead_letters_per_minute'].flatMap((t) => [
        `CREATE TABLE IF NOT EXISTS tw.${t} ON CLUSTER prod`,
        `CREATE MATERIALIZED VIEW IF NOT EXISTS tw.${t}_mv ON CLUSTER prod`,
      ]),
      'ALTER TABLE tw.detections ON CLUSTER prod MODIFY COLUMN detector String',
      'ALTER TABLE tw.events ON CLUSTER prod ADD COLUMN IF NOT EXISTS kafka_partition UInt16 DEFAULT 0',
      'ALTER TABLE tw.events ON CLUSTER prod ADD COLUMN IF NOT EXISTS kafka_partitions UInt16 DEFAULT 0',
      ...['reporter_id', 'reporter_role', 'reporter_door'].map(
        (c) => `ALTER TABLE tw.events ON CLUSTER prod ADD COLUMN IF NOT EXISTS ${c} String DEFAULT ''`,
      ),
      ...['reporters', 'roles'].map(
        (c) =>
          `ALTER TABLE tw.detections ON CLUSTER prod ADD COLUMN IF NOT EXISTS evidence_${c} Array(String)`,
      ),
      `ALTER TABLE tw.revocations ON CLUSTER prod MODIFY COLUMN status Enum8('pending' = 1, 'retrying' = 2, 'done' = 3, 'not_found' = 4, 'failed' = 5, 'dry_run' = 6, 'suppressed' = 7, 'denylist_only' = 8)`,
      "ALTER TABLE tw.events ON CLUSTER prod ADD COLUMN IF NOT EXISTS asn UInt32 DEFAULT 0, ADD COLUMN IF NOT EXISTS as_org String DEFAULT '', ADD COLUMN IF NOT EXISTS network_kind String DEFAULT ''",
      "ALTER TABLE tw.events ON CLUSTER prod ADD COLUMN IF NOT EXISTS bound_key_kind String DEFAULT '', ADD COLUMN IF NOT EXISTS bound_key_thumbprint String DEFAULT '', ADD COLUMN IF NOT EXISTS proof_key_thumbprint String DEFAULT ''",
      "ALTER TABLE tw.events ON CLUSTER prod ADD COLUMN IF NOT EXISTS device_id_source String DEFAULT ''",
    ]);
    const [events, byToken, , deadLetters] = statements;
    expect(events).toContain(
      "\nENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tw/events', '{replica}')\n",
    );
    expect(byToken).toContain(
      "\nENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tw/events_by_token', '{replica}')\n",
    );
    expect(deadLetters).toContain(
      "\nENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tw/dead_letters', '{replica}')\n",
    );
    expect(events).toMatch(/\nTTL time \+ INTERVAL 30 DAY$/);
    expect(statements[10]).toContain(
      "\nENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tw/revocation_notices', '{replica}')\n",
    );
    const rollup = statements.find((s) => s.startsWith('CREATE TABLE IF NOT EXISTS tw.events_per_minute'));
    expect(rollup).toContain(
      "\nENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/tw/events_per_minute', '{replica}', (events))\n",
    );
  });

  it('cluster on 18.16: replicated, without TTL', () => {
    const statements = render(CLUSTER, OLD);
    expect(statements.every((s) => s.split('\n')[0]!.includes(' ON CLUSTER prod'))).toBe(true);
    expect(statements.some((s) => s.includes('TTL'))).toBe(false);
  });

  it('gives every retained table a TTL on its time column', () => {
    const statements = render({ ...SINGLE, retentionDays: 7 }, CURRENT);
    for (const { table, timeColumn } of RETAINED_TABLES) {
      const create = statements.find((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS tw.${table}\n`));
      expect(create, table).toMatch(new RegExp(`\\nTTL ${timeColumn} \\+ INTERVAL 7 DAY$`));
    }
  });
});

describe('MIGRATIONS_TABLE_SQL', () => {
  it('single server', () => {
    expect(MIGRATIONS_TABLE_SQL(SINGLE)).toBe(
      'CREATE TABLE IF NOT EXISTS tw.schema_migrations\n(\n  version UInt32,\n  name String,\n  checksum String,\n' +
        '  applied_at DateTime\n)\nENGINE = ReplacingMergeTree()\nORDER BY version',
    );
  });

  it('cluster', () => {
    const sql = MIGRATIONS_TABLE_SQL(CLUSTER);
    expect(sql.split('\n')[0]).toBe('CREATE TABLE IF NOT EXISTS tw.schema_migrations ON CLUSTER prod');
    expect(sql).toContain(
      "\nENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tw/schema_migrations', '{replica}')\n",
    );
  });
});
