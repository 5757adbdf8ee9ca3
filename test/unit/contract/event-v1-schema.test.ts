import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../tools/local-stack/paths.ts';

describe('published JSON Schema', () => {
  it('contract/schemas/event-v1.schema.json is what `tokenwatch schema` prints (run `npm run schema` after changing the contract)', () => {
    const printed = execFileSync(process.execPath, [`${REPO_ROOT}service/cli.ts`, 'schema'], {
      encoding: 'utf8',
    });
    expect(readFileSync(`${REPO_ROOT}contract/schemas/event-v1.schema.json`, 'utf8')).toBe(printed);
    const schema = JSON.parse(printed);
    expect(
      schema.anyOf.map((s: { properties: { type: { const: string } } }) => s.properties.type.const),
    ).toEqual(['verification', 'refresh', 'issuance', 'revocation']);
  });
});
