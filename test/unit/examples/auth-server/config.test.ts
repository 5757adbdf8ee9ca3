import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type AuthConfig, AuthConfigError, loadAuthConfig } from '../../../../examples/auth-server/config.ts';

function configError(env: Record<string, string>): AuthConfigError {
  try {
    loadAuthConfig(env);
  } catch (err) {
    if (err instanceof AuthConfigError) return err;
    throw err;
  }
  throw new Error('expected an AuthConfigError');
}

describe('loadAuthConfig', () => {
  it('has the documented defaults', () => {
    const expected: AuthConfig = {
      host: '127.0.0.1',
      port: 8090,
      logLevel: 'info',
      trustProxy: false,
      issuer: undefined,
      audience: 'tokenwatch-demo-api',
      signingAlg: 'EdDSA',
      keyRotationSeconds: 0,
      keyOverlapSeconds: 1200,
      accessTtlSeconds: 900,
      refreshTtlSeconds: 1_209_600,
      reuseDetection: false,
      users: [{ name: 'demo', password: 'demo' }],
      allowAnyUser: false,
      clients: [],
      revocationToken: '',
      adminToken: '',
      tenant: 'default',
      source: 'auth-server',
      tokenwatchUrl: '',
      tokenwatchApiKey: '',
      tokenwatchKafkaBrokers: [],
      tokenwatchKafkaTopic: 'tokenwatch.events',
    };
    expect(loadAuthConfig({})).toEqual(expected);
  });

  it('reads lists and switches', () => {
    const config = loadAuthConfig({
      AUTH_USERS: 'a:1, b:2',
      AUTH_CLIENTS: 'tw:s3cret:revoke read,other:x:read',
      AUTH_TRUST_PROXY: '10.0.0.0/8,127.0.0.1',
      AUTH_REUSE_DETECTION: 'true',
      AUTH_SIGNING_ALG: 'ES256',
      AUTH_ISSUER: 'https://auth.example/',
    });
    expect(config.users).toEqual([
      { name: 'a', password: '1' },
      { name: 'b', password: '2' },
    ]);
    expect(config.clients).toEqual([
      { id: 'tw', secret: 's3cret', scopes: ['revoke', 'read'] },
      { id: 'other', secret: 'x', scopes: ['read'] },
    ]);
    expect(config.trustProxy).toBe('10.0.0.0/8,127.0.0.1');
    expect(config).toMatchObject({
      reuseDetection: true,
      signingAlg: 'ES256',
      issuer: 'https://auth.example',
    });
  });

  it('lists every bad variable at once', () => {
    const error = configError({
      AUTH_PORT: '70000',
      AUTH_SIGNING_ALG: 'HS256',
      AUTH_REUSE_DETECTION: 'maybe',
      AUTH_USERS: 'nopassword',
      AUTH_CLIENTS: 'tw:secret',
      AUTH_TOKENWATCH_URL: 'ftp://x',
      AUTH_TENANT: 'a b',
    });
    expect(error.problems).toEqual([
      'AUTH_USERS entry "nopassword" must be name:password',
      'AUTH_CLIENTS entry for "tw" must be id:secret:scope1 scope2 (at least one scope)',
      `AUTH_TENANT="a b" must be 1-64 letters, digits, '.', '_' or '-'`,
      'AUTH_PORT="70000" must be an integer from 0 to 65535',
      'AUTH_SIGNING_ALG="HS256" must be one of EdDSA, ES256',
      'AUTH_REUSE_DETECTION="maybe" must be true or false',
      'AUTH_TOKENWATCH_URL="ftp://x" must be an http(s) URL',
      'AUTH_TOKENWATCH_API_KEY must be set when AUTH_TOKENWATCH_URL is (tokenwatch refuses anonymous events)',
    ]);
    expect(error.message).toContain('AUTH_PORT');
  });

  it('refuses a key overlap shorter than the access token lifetime when keys rotate on a timer', () => {
    expect(
      configError({ AUTH_KEY_ROTATION_SECONDS: '3600', AUTH_KEY_OVERLAP_SECONDS: '60' }).problems,
    ).toEqual([
      expect.stringContaining('AUTH_KEY_OVERLAP_SECONDS (60) must be at least AUTH_ACCESS_TTL_SECONDS (900)'),
    ]);
  });
});

describe('examples/auth-server/README.md', () => {
  it('documents every AUTH_* variable the config reads', () => {
    const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');
    const used = new Set(read('../../../../examples/auth-server/config.ts').match(/\bAUTH_[A-Z_]+/g));
    const readme = read('../../../../examples/auth-server/README.md');
    expect(used.size).toBeGreaterThan(20);
    expect([...used].filter((name) => !readme.includes(`| \`${name}\` |`))).toEqual([]);
  });
});
