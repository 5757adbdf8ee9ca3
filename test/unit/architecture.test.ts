/**
 * The layering, read from the imports. Data flows one way, and so do the imports:
 *
 *   contract  ←  platform  ←  ingest  ←  detectors  ←  response  ←  service
 *
 * - contract/ (wire formats) imports nothing of ours; platform/ (the kernel: ClickHouse, Kafka, HTTP,
 *   settings, text) imports only contract/; each stage imports only what is left of it.
 * - service/ is the composition root: nothing of the product imports it.
 * - dashboards/ reads the stages' names and metrics (contract … detectors), never response/ or service/.
 * - sdk/src/ is published on its own: it imports nothing outside sdk/.
 * - No product module imports tools/, examples/ or test/ (they are around the product, not in it).
 * - kafkajs is imported by platform/kafka/client.ts alone in the service (one place knows the client
 *   library; the SDK, a package of its own, has its Kafka reporter).
 * - Every ClickHouse call names its module in a query_id (platform/clickhouse/query-id.ts).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../tools/local-stack/paths.ts';

const LAYERS = ['contract', 'platform', 'ingest', 'detectors', 'response', 'service'] as const;
const PRODUCT = [...LAYERS, 'dashboards', 'sdk/src'];
const AROUND = ['tools', 'examples', 'test'];

const files = execFileSync('git', ['ls-files', '--', '*.ts'], { cwd: REPO_ROOT, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f !== '');
const tracked = files.filter((f) => PRODUCT.some((p) => f.startsWith(`${p}/`)));

const folderOf = (path: string): string => {
  if (path.startsWith('sdk/src/')) return 'sdk/src';
  const [first, ...rest] = path.split('/');
  return rest.length === 0 ? '(root)' : first!;
};

const IMPORT = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

interface Arrow {
  from: string;
  to: string;
  file: string;
  spec: string;
}

function importsOf(file: string): { spec: string; target: string | undefined }[] {
  const text = readFileSync(join(REPO_ROOT, file), 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => {
    const spec = (m[1] ?? m[2])!;
    return { spec, target: spec.startsWith('.') ? normalize(join(dirname(file), spec)) : undefined };
  });
}

const arrows: Arrow[] = tracked.flatMap((file) =>
  importsOf(file)
    .filter((i) => i.target !== undefined)
    .map((i) => ({ from: folderOf(file), to: folderOf(i.target!), file, spec: i.spec }))
    .filter((a) => a.from !== a.to),
);

/** What each product folder may import, besides itself. */
const ALLOWED: Record<string, readonly string[]> = {
  contract: [],
  platform: ['contract'],
  ingest: ['contract', 'platform'],
  detectors: ['contract', 'platform', 'ingest'],
  response: ['contract', 'platform', 'ingest', 'detectors'],
  service: ['contract', 'platform', 'ingest', 'detectors', 'response', '(root)'],
  dashboards: ['contract', 'platform', 'ingest', 'detectors'],
  'sdk/src': [],
};

const againstLayering = (list: Arrow[]) =>
  list
    .filter((a) => !(ALLOWED[a.from] ?? []).includes(a.to))
    .map((a) => `${a.file} imports ${a.spec} (${a.from} → ${a.to})`);

describe('architecture', () => {
  it('reads the imports of every product module', () => {
    expect(tracked.length).toBeGreaterThan(100);
    expect(arrows.length).toBeGreaterThan(100);
  });

  it('has no arrow against the layering', () => {
    expect(againstLayering(arrows)).toEqual([]);
  });

  it('has no product module importing tools/, examples/ or test/, and nothing importing service/', () => {
    const outward = arrows.filter((a) => AROUND.includes(a.to)).map((a) => `${a.file} imports ${a.spec}`);
    expect(outward).toEqual([]);
    const intoService = arrows.filter((a) => a.to === 'service').map((a) => `${a.file} imports ${a.spec}`);
    expect(intoService).toEqual([]);
  });

  it('keeps kafkajs behind platform/kafka/client.ts (the SDK, a package of its own, has its reporter)', () => {
    const users = tracked.filter(
      (f) => !f.startsWith('sdk/') && importsOf(f).some((i) => i.spec === 'kafkajs'),
    );
    expect(users).toEqual(['platform/kafka/client.ts']);
  });

  it('names the module in the query_id of every ClickHouse call', () => {
    const unnamed: string[] = [];
    let calls = 0;
    for (const file of tracked) {
      const text = readFileSync(join(REPO_ROOT, file), 'utf8');
      if (!text.includes('@clickhouse/client')) continue;
      for (const { method, body } of callsIn(text)) {
        if (!/\b(query|table|values)\b/.test(body)) continue; // not a ClickHouse call
        calls++;
        const named = /query_id:\s*queryId\('([a-z/-]+)'\)/.exec(body)?.[1];
        if (named === undefined && !/query_id:\s*queryId\(o\.by\)/.test(body))
          unnamed.push(`${file}: .${method}({${body.slice(0, 60).replace(/\s+/g, ' ')}…`);
        else if (named !== undefined && named !== file.replace(/\.ts$/, ''))
          unnamed.push(`${file}: its query_id names ${named}`);
      }
    }
    expect(calls).toBeGreaterThan(15);
    expect(unnamed).toEqual([]);
  });
});

/** The object literal of each `.query({`, `.insert({`, `.command({` call in `text` (braces matched). */
function callsIn(text: string): { method: string; body: string }[] {
  const found: { method: string; body: string }[] = [];
  for (const m of text.matchAll(/\.(query|insert|command)\(\{/g)) {
    let depth = 1;
    let i = m.index + m[0].length;
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}') depth--;
    }
    found.push({ method: m[1]!, body: text.slice(m.index + m[0].length, i - 1) });
  }
  return found;
}

describe('the architecture test itself', () => {
  it('catches an arrow against the layering and a call without a query_id', () => {
    const bad: Arrow[] = [{ from: 'platform', to: 'ingest', file: 'platform/x.ts', spec: '../ingest/y.ts' }];
    expect(againstLayering(bad)).toEqual(['platform/x.ts imports ../ingest/y.ts (platform → ingest)']);
    expect(againstLayering(arrows)).toEqual([]);
    expect(callsIn("c.query({ query: 'SELECT 1', format: f({ a: 1 }) })")).toEqual([
      { method: 'query', body: " query: 'SELECT 1', format: f({ a: 1 }) " },
    ]);
  });
});
