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

  it('attributes the bundled GeoLite2 data (CC BY-SA 4.0) and points to the NOTICE', () => {
    expect(readme).toContain('GeoLite2 data created by MaxMind');
    expect(readme).toContain('CC BY-SA 4.0');
    expect(readme).toContain('[NOTICE](NOTICE)');
    const notice = readFileSync(`${REPO_ROOT}NOTICE`, 'utf8');
    expect(notice).toContain(
      'This product includes GeoLite2 data created by MaxMind, available from https://www.maxmind.com',
    );
    expect(notice).toContain('https://creativecommons.org/licenses/by-sa/4.0/');
  });

  it('maps every page of docs/', () => {
    const pages = readdirSync(`${REPO_ROOT}docs`).filter((f) => /\.(md|json)$/.test(f));
    expect(pages.length).toBeGreaterThan(5);
    expect(pages.filter((p) => !readme.includes(`](docs/${p})`))).toEqual([]);
  });
});
