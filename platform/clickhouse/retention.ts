/**
 * Retention on servers without TTL (ClickHouse < 19.6): drops day partitions older than the
 * retention period. On servers with TTL the tables expire rows themselves and this does nothing.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { ServerFeatures } from './client.ts';
import { RETAINED_TABLES, type SchemaOptions } from './schema.ts';
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
    const rs = await client.query({
      query: `SELECT DISTINCT partition FROM system.parts WHERE database = ${quoteString(o.database)} AND table = ${quoteString(table)} AND active`,
      format: 'JSONEachRow',
    });
    const partitions = (await rs.json<{ partition: string }>()).map((r) => r.partition);
    for (const p of expiredPartitions(partitions, o.retentionDays, nowMs)) {
      const on = o.cluster === '' ? '' : ` ON CLUSTER ${o.cluster}`;
      await client.command({ query: `ALTER TABLE ${o.database}.${table}${on} DROP PARTITION ${p}` });
      log.info({ table, partition: p, retentionDays: o.retentionDays }, 'dropped expired partition');
      dropped++;
    }
  }
  return dropped;
}
