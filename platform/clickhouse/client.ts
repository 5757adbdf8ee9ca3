/** The ClickHouse connection and what the server can do (version-dependent SQL lives on `features`). */
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { CLUSTER_SETTINGS } from './cluster.ts';
import { queryId } from './query-id.ts';

export interface ServerFeatures {
  version: string;
  major: number;
  minor: number;
  /** table TTL (ClickHouse ≥ 19.6); without it retention drops old partitions */
  ttl: boolean;
  /** `ALTER TABLE … ADD COLUMN IF NOT EXISTS` (not on 18.16; assumed from 20 on) */
  addColumnIfNotExists: boolean;
}

/** How to reach ClickHouse (platform/clickhouse/settings.ts reads it from the environment). */
export interface ClickHouseConnection {
  url: string;
  user: string;
  password: string;
  requestTimeoutMs: number;
  /** '' on a single server; a cluster's connection carries CLUSTER_SETTINGS */
  cluster: string;
}

export function createClickHouse(config: ClickHouseConnection): ClickHouseClient {
  return createClient({
    url: config.url,
    username: config.user,
    password: config.password,
    request_timeout: config.requestTimeoutMs,
    application: 'tokenwatch',
    // Explicit settings only; nothing that ClickHouse 18.16 does not know.
    clickhouse_settings: config.cluster === '' ? {} : { ...CLUSTER_SETTINGS },
    compression: { request: false, response: false },
    keep_alive: { enabled: true },
    // Failures surface as rejected promises and are logged by tokenwatch with their context.
    log: { level: ClickHouseLogLevel.OFF },
  });
}

export function featuresOf(version: string): ServerFeatures {
  const [major = 0, minor = 0] = version.split('.').map((p) => Number.parseInt(p, 10));
  return {
    version,
    major,
    minor,
    ttl: major > 19 || (major === 19 && minor >= 6),
    addColumnIfNotExists: major >= 20,
  };
}

export async function detectFeatures(client: ClickHouseClient): Promise<ServerFeatures> {
  const rs = await client.query({
    query_id: queryId('platform/clickhouse/client'),
    query: 'SELECT version() AS version',
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ version: string }>();
  if (row === undefined) throw new Error('ClickHouse did not answer SELECT version()');
  return featuresOf(row.version);
}
