/**
 * Retention on servers without TTL (ClickHouse < 19.6): drops day partitions older than the
 * retention period. On servers with TTL the tables expire rows themselves and this does nothing.
 * On a cluster the partitions of every shard are dropped ON CLUSTER, in the local tables behind
 * Distributed ones; when a host does not answer, the drop waits in the cluster's DDL queue for it
 * and the rest waits for the next round.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { ServerFeatures } from './client.ts';
import { ddlSettings, isDdlUnfinished, storedTable } from './cluster.ts';
import { queryId } from './query-id.ts';
import { onCluster, RETAINED_TABLES, type SchemaOptions } from './schema.ts';
import { quoteString } from './sql.ts';

/** The YYYYMMDD partition ids older than `retentionDays` before `nowMs`. */
export function expiredPartitions(partitions: string[], retentionDays: number, nowMs: number): string[] {
  const cutoff = new Date(nowMs - retentionDays * 86_400_000);
  const cutoffId = Number(cutoff.toISOString().slice(0, 10).replaceAll('-', ''));
  return partitions.filter((p) => /^\d{8}$/.test(p) && Number(p) < cutoffId);
}

export async function dropExpiredPartitions(
  client: ClickHouseClient,
  o: SchemaOptions,
  features: ServerFeatures,
  log: Logger,
  nowMs = Date.now(),
): Promise<number> {
  if (features.ttl) return 0;
  let dropped = 0;
  for (const { table } of RETAINED_TABLES) {
    const stored = await storedTable(client, o, table);
    if (stored === undefined) continue;
    const parts =
      stored.cluster === '' ? 'system.parts' : `cluster(${quoteString(stored.cluster)}, system, parts)`;
    const rs = await client.query({
      query_id: queryId('platform/clickhouse/retention'),
      query: `SELECT DISTINCT partition FROM ${parts} WHERE database = ${quoteString(stored.database)} AND table = ${quoteString(stored.table)} AND active`,
      format: 'JSONEachRow',
    });
    const partitions = (await rs.json<{ partition: string }>()).map((r) => r.partition);
    for (const p of expiredPartitions(partitions, o.retentionDays, nowMs)) {
      const at = {
        database: stored.database,
        table: stored.table,
        partition: p,
        retentionDays: o.retentionDays,
      };
      try {
        await client.command({
          query_id: queryId('platform/clickhouse/retention'),
          query: `ALTER TABLE ${stored.database}.${stored.table}${onCluster({ ...o, cluster: stored.cluster })} DROP PARTITION ${p}`,
          clickhouse_settings: ddlSettings(stored.cluster),
        });
      } catch (err) {
        if (!isDdlUnfinished(err)) throw err;
        log.warn(
          { ...at, err: (err as Error).message },
          'retention: a host of the cluster did not drop the partition in time; it waits in the DDL queue for it, the next partitions for the next round',
        );
        return dropped + 1;
      }
      log.info(at, 'dropped expired partition');
      dropped++;
    }
  }
  return dropped;
}
