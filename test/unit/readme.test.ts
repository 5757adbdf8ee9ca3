import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../tools/local-stack/paths.ts';

describe('README', () => {
  it('starts with the two commands: the demo and the full test suite', () => {
    const firstLines = readFileSync(`${REPO_ROOT}README.md`, 'utf8').split('\n').slice(0, 6).join('\n');
    expect(firstLines).toContain('npm run demo');
    expect(firstLines).toContain('npm test');
  });
});
