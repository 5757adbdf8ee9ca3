/**
 * The SDK is a publishable package: `npm pack` builds it, the tarball holds the built JavaScript
 * and types (no sources, no tests), and an empty project that installs it can use every entry
 * point from plain JavaScript and type-check against it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');
let work: string;
let consumer: string;
let files: string[];

const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: process.env });

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tw-sdk-pack-'));
  // npm prints the prepack build's banner before the JSON
  const output = run('npm', ['pack', '--json', '--pack-destination', work], join(REPO, 'sdk'));
  const packed = JSON.parse(output.slice(output.search(/^\[/m))) as {
    filename: string;
    files: { path: string }[];
  }[];
  files = packed[0]!.files.map((f) => f.path);
  consumer = join(work, 'consumer');
  const installed = join(consumer, 'node_modules', '@tokenwatch', 'sdk');
  mkdirSync(installed, { recursive: true });
  run('tar', ['-xzf', join(work, packed[0]!.filename), '-C', installed, '--strip-components=1'], work);
  // its dependency and the optional peers, as an install would place them (no network needed)
  mkdirSync(join(consumer, 'node_modules', '@types'));
  for (const dep of ['jose', 'fastify', 'kafkajs', 'prom-client', '@types/node'])
    symlinkSync(join(REPO, 'node_modules', dep), join(consumer, 'node_modules', dep), 'dir');
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', type: 'module', private: true }),
  );
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  rmSync(join(REPO, 'sdk', 'dist'), { recursive: true, force: true });
});

describe('@tokenwatch/sdk as a package', () => {
  it('packs the built JavaScript with its types, the README and package.json only', () => {
    expect(files).toContain('package.json');
    expect(files).toContain('README.md');
    for (const entry of ['index', 'fastify', 'kafka', 'prometheus', 'oidc-provider']) {
      expect(files).toContain(`dist/${entry}.js`);
      expect(files).toContain(`dist/${entry}.d.ts`);
    }
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toStrictEqual([]);
    expect(readdirSync(join(consumer, 'node_modules', '@tokenwatch', 'sdk'))).not.toContain('src');
  });

  it('works from plain JavaScript through every entry point', () => {
    writeFileSync(
      join(consumer, 'check.mjs'),
      `
import { createVerifier, createAuthEvents, Denylist, TokenRejectedError, VERIFICATION_REASONS } from '@tokenwatch/sdk';
import { tokenwatchPlugin } from '@tokenwatch/sdk/fastify';
import { createKafkaReporter, followRevocations } from '@tokenwatch/sdk/kafka';
import { registerSdkMetrics } from '@tokenwatch/sdk/prometheus';
import { generateKeyPair, SignJWT } from 'jose';

const { privateKey, publicKey } = await generateKeyPair('EdDSA');
const events = [];
const reporter = { report: (e) => events.push(e), flush: async () => {}, close: async () => {}, stats: () => ({}) };
const verifier = createVerifier({ issuer: 'iss', audience: 'aud', key: publicKey, algorithms: ['EdDSA'], reporter });
const token = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'EdDSA' }).setIssuer('iss').setAudience('aud').setExpirationTime('5m').sign(privateKey);
const claims = await verifier.verify(token, { ip: '192.0.2.1' });
const rejected = await verifier.verify(token + 'x').catch((e) => e instanceof TokenRejectedError && e.reason);
console.log(JSON.stringify({
  sub: claims.sub, rejected, events: events.map((e) => e.reason),
  exports: [typeof tokenwatchPlugin, typeof createKafkaReporter, typeof followRevocations, typeof registerSdkMetrics, typeof createAuthEvents, typeof Denylist],
  reasons: VERIFICATION_REASONS.length,
}));
`,
    );
    const out = JSON.parse(run(process.execPath, ['check.mjs'], consumer));
    expect(out).toStrictEqual({
      sub: 'alice',
      rejected: 'bad_signature',
      events: ['ok', 'bad_signature'],
      exports: ['function', 'function', 'function', 'function', 'function', 'function'],
      reasons: 18,
    });
  });

  it('type-checks a TypeScript consumer against the published types', () => {
    writeFileSync(
      join(consumer, 'check.ts'),
      `
import { createHttpReporter, createVerifier, type AccessTokenClaims, type VerificationReason } from '@tokenwatch/sdk';
import { tokenwatchPlugin } from '@tokenwatch/sdk/fastify';
const reporter = createHttpReporter({ url: 'http://tokenwatch:8080', apiKey: 'k', maxQueue: 1000 });
const verifier = createVerifier({ issuer: 'i', audience: 'a', jwksUrl: 'http://i/jwks', algorithms: ['ES256'], reporter });
export async function check(token: string): Promise<string | undefined> {
  const claims: AccessTokenClaims = await verifier.verify(token, { ip: '192.0.2.1', deviceId: 'd' });
  const reason: VerificationReason = 'revoked';
  return claims.sub ?? reason;
}
export const plugin = tokenwatchPlugin;
// @ts-expect-error a wrong option type is caught by the published types
createHttpReporter({ url: 'http://x', apiKey: 'k', maxQueue: 'many' });
`,
    );
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          types: ['node'],
        },
        files: ['check.ts'],
      }),
    );
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    expect(run(process.execPath, [tsc, '-p', '.'], consumer)).toBe('');
  });
});
