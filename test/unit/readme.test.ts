import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../tools/local-stack/paths.ts';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(ts|sh)$/.test(name) ? [path] : [];
  });
}

describe('README', () => {
  it('documents every TOKENWATCH_* and BENCH_* variable the code reads', () => {
    const readme = readFileSync(`${REPO_ROOT}README.md`, 'utf8');
    const used = new Set<string>();
    for (const dir of [
      'contract',
      'platform',
      'ingest',
      'detectors',
      'response',
      'service',
      'tools',
      'test/support',
    ]) {
      for (const file of sources(join(REPO_ROOT, dir))) {
        for (const m of readFileSync(file, 'utf8').matchAll(/\b((?:TOKENWATCH|BENCH)_[A-Z0-9_]+)/g))
          used.add(m[1]!);
      }
    }
    expect(used.size).toBeGreaterThan(30);
    expect([...used].filter((v) => !readme.includes(`\`${v}\``)).sort()).toEqual([]);
  });

  it('starts with the two commands: the demo and the full test suite', () => {
    const firstLines = readFileSync(`${REPO_ROOT}README.md`, 'utf8').split('\n').slice(0, 6).join('\n');
    expect(firstLines).toContain('npm run demo');
    expect(firstLines).toContain('npm test');
  });
});
