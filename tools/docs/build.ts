/**
 * `npm run docs`: renders the generated blocks of every page under docs/ and the generated files
 * (docs/asyncapi.json) from the code (tools/docs/blocks.ts).
 * `--check` writes nothing and exits 1 naming the stale pages (what the unit test asserts too).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FILES, renderPage } from './blocks.ts';

const DOCS = join(import.meta.dirname, '..', '..', 'docs');
const check = process.argv.includes('--check');
const stale: string[] = [];
for (const name of readdirSync(DOCS).filter((f) => f.endsWith('.md'))) {
  const path = join(DOCS, name);
  const text = readFileSync(path, 'utf8');
  const fresh = renderPage(text, `docs/${name}`);
  if (fresh === text) continue;
  stale.push(`docs/${name}`);
  if (!check) writeFileSync(path, fresh);
}
for (const [name, render] of Object.entries(FILES)) {
  const path = join(DOCS, name);
  const fresh = render();
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  if (fresh === text) continue;
  stale.push(`docs/${name}`);
  if (!check) writeFileSync(path, fresh);
}
if (check && stale.length > 0) {
  console.error(`stale generated docs: ${stale.join(', ')} — run \`npm run docs\``);
  process.exit(1);
}
console.log(stale.length === 0 ? 'docs are current' : `updated ${stale.join(', ')}`);
