/** Runs SQL on a current ClickHouse engine (chdb, through test/support/chdb_exec.py). */
import { execFile } from 'node:child_process';
import { featuresOf, type ServerFeatures } from '../../platform/clickhouse/client.ts';
import { MIGRATIONS, MIGRATIONS_TABLE_SQL, type SchemaOptions } from '../../platform/clickhouse/schema.ts';
import { REPO_ROOT } from '../../tools/local-stack/paths.ts';

export interface ChdbReport {
  version: string | null;
  error?: string;
  results: { sql: string; ok: boolean; error?: string; rows?: Record<string, unknown>[] }[];
}

/** Statements run first, in order, then queries; every one is attempted and reported. */
export async function chdb(statements: string[], queries: string[]): Promise<ChdbReport> {
  const child = execFile('python3', [`${REPO_ROOT}test/support/chdb_exec.py`], {
    maxBuffer: 64 * 1024 * 1024,
  });
  child.stdin!.end(JSON.stringify({ statements, queries }));
  let out = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c;
  });
  await new Promise((resolve) => child.on('close', resolve));
  return JSON.parse(out) as ChdbReport;
}

/** What the chdb engine is (its version's features); fails saying how to get chdb when it is missing. */
export async function chdbFeatures(): Promise<ServerFeatures> {
  const probe = await chdb([], []);
  if (probe.error !== undefined || probe.version === null) {
    throw new Error(`chdb (pip install chdb) is needed to check SQL on current ClickHouse: ${probe.error}`);
  }
  return featuresOf(probe.version);
}

/** The whole schema as statements for chdb: database, migrations table, every migration. */
export const schemaStatements = (o: SchemaOptions, features: ServerFeatures): string[] => [
  `CREATE DATABASE IF NOT EXISTS ${o.database}`,
  MIGRATIONS_TABLE_SQL(o),
  ...MIGRATIONS.flatMap((m) => m.statements(o, features)),
];
