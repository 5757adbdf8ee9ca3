/**
 * `tokenwatch migrate` (also run at start-up): applies the migrations not yet recorded in
 * schema_migrations, in order. Statements are idempotent, so two instances starting at once are safe.
 * When every migration is recorded nothing is run, so on a cluster a replica that is down does not
 * hold up a start (an ON CLUSTER statement waits for every host).
 */
import { createHash } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { ServerFeatures } from './client.ts';
import { clusterAdvice, ddlSettings, refuseDistributedTables } from './cluster.ts';
import { queryId } from './query-id.ts';
import {
  MIGRATIONS,
  MIGRATIONS_TABLE_SQL,
  type Migration,
  onCluster,
  RETAINED_TABLES,
  type SchemaOptions,
} from './schema.ts';
import { quoteString } from './sql.ts';

export interface MigrationReport {
  applied: { version: number; name: string }[];
  alreadyApplied: number;
  latest: number;
}

const checksum = (statements: string[]) =>
  createHash('sha256').update(statements.join(';\n')).digest('hex').slice(0, 16);

export async function appliedVersions(
  client: ClickHouseClient,
  o: SchemaOptions,
): Promise<Map<number, string>> {
  const rs = await client.query({
    query_id: queryId('platform/clickhouse/migrate'),
    query: `SELECT version, any(checksum) AS checksum FROM ${o.database}.schema_migrations GROUP BY version`,
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ version: number; checksum: string }>();
  return new Map(rows.map((r) => [Number(r.version), r.checksum]));
}

export async function migrate(
  client: ClickHouseClient,
  o: SchemaOptions,
  features: ServerFeatures,
  log: Logger,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<MigrationReport> {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  let done = await recordedVersions(client, o);
  if (done === undefined || sorted.some((m) => !done!.has(m.version))) {
    await refuseDistributedTables(client, o);
    for (const query of [
      `CREATE DATABASE IF NOT EXISTS ${o.database}${onCluster(o)}`,
      MIGRATIONS_TABLE_SQL(o),
    ]) {
      await ddl(client, o, query).catch((err: Error) => {
        throw new Error(`${query.split('\n')[0]} failed: ${err.message}${clusterAdvice(o.cluster, err)}`);
      });
    }
    done = await appliedVersions(client, o);
  }
  const report: MigrationReport = { applied: [], alreadyApplied: 0, latest: 0 };
  for (const m of sorted) {
    const statements = m.statements(o, features);
    const sum = checksum(statements);
    report.latest = m.version;
    const recorded = done.get(m.version);
    if (recorded !== undefined) {
      report.alreadyApplied++;
      if (recorded !== sum) {
        log.debug(
          { version: m.version, name: m.name },
          'migration was applied with other settings (retention, server version); not re-applied',
        );
      }
      continue;
    }
    log.info({ version: m.version, name: m.name, server: features.version }, 'applying migration');
    for (const query of statements) {
      try {
        await ddl(client, o, query);
      } catch (err) {
        if (isColumnAlreadyAdded(query, err)) continue;
        throw new Error(
          `migration ${m.version} (${m.name}) failed on ClickHouse ${features.version}: ${(err as Error).message}${clusterAdvice(o.cluster, err)}\nSQL:\n${query}`,
        );
      }
    }
    await client.insert({
      query_id: queryId('platform/clickhouse/migrate'),
      table: `${o.database}.schema_migrations`,
      values: [
        { version: m.version, name: m.name, checksum: sum, applied_at: Math.floor(Date.now() / 1000) },
      ],
      format: 'JSONEachRow',
    });
    report.applied.push({ version: m.version, name: m.name });
  }
  if (features.ttl) await reconcileTtl(client, o, log);
  return report;
}

/** A DDL statement; on a cluster it waits a bounded time for every host. */
const ddl = (client: ClickHouseClient, o: SchemaOptions, query: string) =>
  client.command({
    query_id: queryId('platform/clickhouse/migrate'),
    query,
    clickhouse_settings: ddlSettings(o.cluster),
  });

/** What schema_migrations records; undefined when it does not exist yet. */
async function recordedVersions(client: ClickHouseClient, o: SchemaOptions) {
  const rs = await client.query({
    query_id: queryId('platform/clickhouse/migrate'),
    query: `SELECT count() AS n FROM system.tables WHERE database = ${quoteString(o.database)} AND name = 'schema_migrations'`,
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ n: string | number }>();
  return Number(row?.n ?? 0) === 0 ? undefined : appliedVersions(client, o);
}

/** On servers with TTL: keep each table's TTL equal to the configured retention (only altered when it differs). */
async function reconcileTtl(client: ClickHouseClient, o: SchemaOptions, log: Logger) {
  for (const { table, timeColumn } of RETAINED_TABLES) {
    // (a Distributed table has no TTL: its local table's is set where tokenwatch migrate created it)
    const rs = await client.query({
      query_id: queryId('platform/clickhouse/migrate'),
      query: `SELECT create_table_query FROM system.tables WHERE database = ${quoteString(o.database)} AND name = ${quoteString(table)} AND engine LIKE '%MergeTree'`,
      format: 'JSONEachRow',
    });
    const [row] = await rs.json<{ create_table_query: string }>();
    if (row === undefined || row.create_table_query.includes(`toIntervalDay(${o.retentionDays})`)) continue;
    log.info({ table, retentionDays: o.retentionDays }, 'changing table TTL to the configured retention');
    await client.command({
      query_id: queryId('platform/clickhouse/migrate'),
      query: `ALTER TABLE ${o.database}.${table}${onCluster(o)} MODIFY TTL ${timeColumn} + INTERVAL ${o.retentionDays} DAY`,
      clickhouse_settings: { materialize_ttl_after_modify: 0, ...ddlSettings(o.cluster) },
    });
  }
}

/** An ADD COLUMN that an interrupted earlier run already applied (18.16 lacks ADD COLUMN IF NOT EXISTS). */
function isColumnAlreadyAdded(query: string, err: unknown): boolean {
  return /\bADD COLUMN\b/.test(query) && /column with this name already exists/i.test((err as Error).message);
}

/** True when every known migration is recorded (readiness). */
export async function isSchemaCurrent(client: ClickHouseClient, o: SchemaOptions): Promise<boolean> {
  const done = await appliedVersions(client, o);
  return MIGRATIONS.every((m) => done.has(m.version));
}
