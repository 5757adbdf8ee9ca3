/**
 * `npm run dashboards`: writes every dashboard as JSON into dashboards/json/, where Grafana's
 * provisioning reads them (the JSON is committed, so `docker compose up` needs no build).
 * `npm run dashboards -- --check` writes nothing and fails when a committed file is out of date.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DASHBOARDS } from './src/index.ts';

export const JSON_DIR = join(import.meta.dirname, 'json');

export function renderDashboards(): Map<string, string> {
  return new Map(
    Object.entries(DASHBOARDS).map(([file, build]) => [file, `${JSON.stringify(build(), null, 2)}\n`]),
  );
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
  mkdirSync(JSON_DIR, { recursive: true });
  const stale: string[] = [];
  for (const [file, json] of renderDashboards()) {
    const path = join(JSON_DIR, file);
    let current = '';
    try {
      current = readFileSync(path, 'utf8');
    } catch {}
    if (current === json) continue;
    if (values.check) stale.push(file);
    else {
      writeFileSync(path, json);
      console.log(`wrote ${path}`);
    }
  }
  if (stale.length > 0) {
    console.error(
      `out of date in dashboards/json: ${stale.join(', ')} — run npm run dashboards and commit the result`,
    );
    process.exit(1);
  }
  if (values.check) console.log('dashboards/json is up to date');
}
