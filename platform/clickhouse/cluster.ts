/**
 * What tokenwatch does differently on a ClickHouse cluster (TOKENWATCH_CLICKHOUSE_CLUSTER set; see
 * docs/clickhouse-cluster.md): the settings of its connection, how long an ON CLUSTER statement
 * waits for every host and what its failures mean, and where a table's rows are stored when
 * tokenwatch's database holds Distributed tables (several shards) in front of local ones.
 */
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import { queryId } from './query-id.ts';
import type { SchemaOptions } from './schema.ts';
import { quoteString } from './sql.ts';

/**
 * The connection's settings on a cluster.
 * - `insert_distributed_sync`: an insert into a Distributed table returns once every shard stored its
 *   rows (not when they are queued on the local disk), so Kafka offsets are committed after storage.
 * - `insert_deduplicate: 0`: a retried insert is stored again, as on a single server, and collapses by
 *   key. With Replicated* tables' default deduplication a retried block whose first attempt reached
 *   the table is dropped whole — and with it the rows the materialized views (events_by_token, the
 *   rollups) did not get before the replica died.
 */
export const CLUSTER_SETTINGS = { insert_distributed_sync: 1, insert_deduplicate: 0 } as const;

/** How long an ON CLUSTER statement waits for every host (below the client's default 30 s timeout). */
export const DDL_WAIT_SECONDS = 20;

/** The settings of a DDL statement: on a cluster, how long it waits for every host. */
export const ddlSettings = (cluster: string): ClickHouseSettings =>
  cluster === '' ? {} : { distributed_ddl_task_timeout: String(DDL_WAIT_SECONDS) };

/**
 * An ON CLUSTER statement that a host did not finish in time (a replica down): it stays in the
 * cluster's DDL queue, and that host runs it when it is back.
 */
export function isDdlUnfinished(err: unknown): boolean {
  return /distributed_ddl_task_timeout|unfinished hosts/i.test((err as Error).message ?? '');
}

const ADVICE: [RegExp, (cluster: string) => string][] = [
  [
    /distributed_ddl_task_timeout|unfinished hosts|timeout/i,
    (c) =>
      `an ON CLUSTER statement waits up to ${DDL_WAIT_SECONDS} s for every host of cluster ${c}; a host that is ` +
      'down runs it from the queue when it is back. Start every host (SELECT host_name, port FROM system.clusters ' +
      `WHERE cluster = '${c}' lists them), then run tokenwatch migrate again: every statement is idempotent`,
  ],
  [
    /cluster .*not found|Requested cluster/i,
    (c) =>
      `TOKENWATCH_CLICKHOUSE_CLUSTER=${c} must name a cluster of the server's <remote_servers> ` +
      '(SELECT DISTINCT cluster FROM system.clusters lists them)',
  ],
  [
    /macro/i,
    () =>
      'every server of the cluster needs <macros> with its `shard` and `replica` (docs/clickhouse-cluster.md)',
  ],
  [
    /zookeeper/i,
    () =>
      "Replicated tables and ON CLUSTER statements need <zookeeper> in every server's config, and ZooKeeper up",
  ],
];

/** What to do about a failed statement on a cluster ('' on a single server or when nothing is known). */
export function clusterAdvice(cluster: string, err: unknown): string {
  if (cluster === '') return '';
  const message = (err as Error).message ?? '';
  const found = ADVICE.find(([pattern]) => pattern.test(message));
  return found === undefined ? '' : `\nWhat to do: ${found[1](cluster)}.`;
}

/**
 * Migrations create local tables: on a database of Distributed tables (several shards, in front of a
 * database of local ones) they would alter the Distributed tables alone. Refused, saying what to do.
 */
export async function refuseDistributedTables(client: ClickHouseClient, o: SchemaOptions) {
  if (o.cluster === '') return;
  const rs = await client.query({
    query_id: queryId('platform/clickhouse/cluster'),
    query: `SELECT name, engine_full FROM system.tables WHERE database = ${quoteString(o.database)} AND engine = 'Distributed' ORDER BY name LIMIT 1`,
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ name: string; engine_full: string }>();
  if (row === undefined) return;
  throw new Error(
    `migrations are pending, but ${o.database}.${row.name} is a Distributed table (${row.engine_full}): ` +
      'tokenwatch migrate creates and alters the local tables. What to do: run tokenwatch migrate with ' +
      'TOKENWATCH_CLICKHOUSE_DATABASE set to the database of the local tables, then bring the Distributed ' +
      'tables up to date (docs/clickhouse-cluster.md, "Several shards")',
  );
}

/** Where a table's rows are: the table itself, or the local table behind a Distributed one. */
export interface StoredTable {
  database: string;
  table: string;
  /** what its DDL runs ON CLUSTER ('' on a single server) */
  cluster: string;
}

const unquote = (s: string) => s.trim().replace(/^['"`]|['"`]$/g, '');

/** The cluster, database and table a Distributed engine names; undefined for another engine. */
export function distributedTarget(engineFull: string): StoredTable | undefined {
  const m = /^Distributed\(\s*([^,]+),\s*([^,]+),\s*([^,)]+)/.exec(engineFull.trim());
  if (m === null) return undefined;
  const [cluster, database, table] = [m[1]!, m[2]!, m[3]!].map(unquote) as [string, string, string];
  const plain = /^[A-Za-z_][A-Za-z0-9_]*$/;
  if (![cluster, database, table].every((x) => plain.test(x)))
    throw new Error(
      `cannot tell the local table of a Distributed table from its engine ${engineFull}: name the cluster, ` +
        'database and table plainly (Distributed(cluster, database, table, sharding_key))',
    );
  return { cluster, database, table };
}

/**
 * Where the rows of `<o.database>.<table>` are stored. On a single server and for a table that is
 * not Distributed: the table itself. For a Distributed table: the local table it names, on its
 * cluster. Undefined when the table does not exist.
 */
export async function storedTable(
  client: ClickHouseClient,
  o: SchemaOptions,
  table: string,
): Promise<StoredTable | undefined> {
  const self = { database: o.database, table, cluster: o.cluster };
  if (o.cluster === '') return self;
  const rs = await client.query({
    query_id: queryId('platform/clickhouse/cluster'),
    query: `SELECT engine_full FROM system.tables WHERE database = ${quoteString(o.database)} AND name = ${quoteString(table)}`,
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ engine_full: string }>();
  if (row === undefined) return undefined;
  return distributedTarget(row.engine_full) ?? self;
}
