/** Runs SQL on a current ClickHouse engine (chdb, through test/support/chdb_exec.py). */
import { execFile } from 'node:child_process';
import { REPO_ROOT } from '../../infra/paths.ts';

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
