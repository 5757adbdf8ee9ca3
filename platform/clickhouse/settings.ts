/** Where ClickHouse is and how tokenwatch uses it: the server, its user and database, retention, migrations. */
import { isHttpUrl, isIdentifier, setting, type ValuesOf } from '../settings.ts';

export const CLICKHOUSE_SETTINGS = {
  url: setting.str('TOKENWATCH_CLICKHOUSE_URL', 'http://127.0.0.1:8123', 'ClickHouse HTTP interface', {
    check: isHttpUrl,
  }),
  user: setting.str('TOKENWATCH_CLICKHOUSE_USER', 'default', 'ClickHouse user'),
  password: setting.secret('TOKENWATCH_CLICKHOUSE_PASSWORD', 'its password'),
  database: setting.str('TOKENWATCH_CLICKHOUSE_DATABASE', 'tokenwatch', 'created by the migrations', {
    check: isIdentifier,
  }),
  cluster: setting.str(
    'TOKENWATCH_CLICKHOUSE_CLUSTER',
    '',
    'cluster name: DDL runs `ON CLUSTER` with `Replicated*` engines (`{shard}`/`{replica}` macros); one shard or several: [ClickHouse cluster](clickhouse-cluster.md)',
    { check: isIdentifier },
  ),
  retentionDays: setting.int(
    'TOKENWATCH_RETENTION_DAYS',
    90,
    1,
    36_500,
    'rows older than this are dropped, in every table: table TTL on ClickHouse ≥ 19.6, hourly partition drops on older servers. Keep it above the family lifetime (14 days), or revocation notices still in force are dropped (a warning at start says so)',
  ),
  migrateOnStart: setting.bool(
    'TOKENWATCH_MIGRATE_ON_START',
    true,
    'apply migrations at start-up (else run `tokenwatch migrate`)',
  ),
  requestTimeoutMs: setting.int(
    'TOKENWATCH_CLICKHOUSE_TIMEOUT_MS',
    30_000,
    100,
    Number.MAX_SAFE_INTEGER,
    'ClickHouse request timeout',
  ),
};

export type ClickHouseSettings = ValuesOf<typeof CLICKHOUSE_SETTINGS>;
