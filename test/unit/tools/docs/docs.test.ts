import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIGURATION } from '../../../../service/config.ts';
import { BLOCKS, FILES, renderPage } from '../../../../tools/docs/blocks.ts';
import { REPO_ROOT } from '../../../../tools/local-stack/paths.ts';

const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
const pages = readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md'));

/** The variables named in the tracked files under `dirs` (TypeScript and shell). */
function variablesIn(dirs: string[], pattern: RegExp): Map<string, string> {
  const files = execFileSync('git', ['ls-files', '--', ...dirs], { cwd: REPO_ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((f) => /\.(ts|sh)$/.test(f));
  const used = new Map<string, string>();
  for (const f of files) for (const m of read(f).matchAll(pattern)) used.set(m[1]!, f);
  return used;
}

describe('docs', () => {
  it.each(pages)('docs/%s has its generated blocks current (else: npm run docs)', (page) => {
    const text = read(`docs/${page}`);
    expect(renderPage(text, `docs/${page}`)).toBe(text);
  });

  it.each(Object.keys(FILES))('docs/%s is current (else: npm run docs)', (name) => {
    expect(read(`docs/${name}`)).toBe(FILES[name]!());
  });

  it('renders every generated block somewhere', () => {
    const all = pages.map((p) => read(`docs/${p}`)).join('\n');
    for (const name of Object.keys(BLOCKS)) expect(all).toContain(`<!-- generated: ${name} -->`);
  });

  it('refuses a block it does not know, naming the page', () => {
    expect(() => renderPage('<!-- generated: nope -->\n<!-- /generated -->', 'docs/x.md')).toThrow(
      /docs\/x\.md: unknown generated block "nope"/,
    );
  });

  it('has every TOKENWATCH_* variable the service reads in a settings table (the generated page)', () => {
    const documented = new Set(CONFIGURATION.flatMap((s) => Object.values(s.table).map((x) => x.env)));
    const used = variablesIn(
      ['contract', 'platform', 'ingest', 'detectors', 'response', 'service', 'sdk/src'],
      /\b(TOKENWATCH_[A-Z0-9_]+)/g,
    );
    expect(used.size).toBeGreaterThan(50);
    expect([...used].filter(([v]) => !documented.has(v))).toEqual([]);
  });

  it('documents every variable the tools, the demo and the test setup read', () => {
    const page = read('docs/configuration.md');
    const used = variablesIn(['tools', 'test/support', '.ci'], /\b((?:TOKENWATCH|BENCH|DEMO)_[A-Z0-9_]+)/g);
    expect(used.size).toBeGreaterThan(30);
    expect([...used].filter(([v]) => !page.includes(`\`${v}\``))).toEqual([]);
  });
});
