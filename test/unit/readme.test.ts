import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../tools/local-stack/paths.ts';

const readme = readFileSync(`${REPO_ROOT}README.md`, 'utf8');

describe('README', () => {
  it('starts with the two commands: the demo and the full test suite', () => {
    const firstLines = readme.split('\n').slice(0, 6).join('\n');
    expect(firstLines).toContain('npm run demo');
    expect(firstLines).toContain('npm test');
  });

  it('stays short: what tokenwatch is, the two commands, what you get and a map of docs/ (≤ 150 lines)', () => {
    expect(readme.trimEnd().split('\n').length).toBeLessThanOrEqual(150);
  });

  it('maps every page of docs/', () => {
    const pages = readdirSync(`${REPO_ROOT}docs`).filter((f) => /\.(md|json)$/.test(f));
    expect(pages.length).toBeGreaterThan(5);
    expect(pages.filter((p) => !readme.includes(`](docs/${p})`))).toEqual([]);
  });
});
