/**
 * The fastify plugin on a real listening server: RFC 6750 challenges, scopes, opt-outs, the
 * client address under fastify's trustProxy rules, the device id from a header or a cookie.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenwatchPlugin } from '../../../sdk/src/fastify.ts';
import { createVerifier, type VerifierOptions } from '../../../sdk/src/index.ts';
import { dpopKey, dpopProof } from '../../support/dpop.ts';
import { AUDIENCE, CollectingReporter, ISSUER, mint, type SigningKey, signingKey } from './support.ts';

let key: SigningKey;
beforeAll(async () => {
  key = await signingKey('EdDSA');
});

const apps: FastifyInstance[] = [];
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
});

async function serve(o: { trustProxy?: string; verifier?: Partial<VerifierOptions>; cookie?: string } = {}) {
  const reporter = new CollectingReporter();
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    key: key.publicJwk,
    algorithms: ['EdDSA'],
    reporter,
    ...o.verifier,
  });
  const app = Fastify(o.trustProxy === undefined ? {} : { trustProxy: o.trustProxy });
  await app.register(tokenwatchPlugin, {
    verifier,
    realm: 'orders',
    deviceId: { header: 'X-Device', ...(o.cookie === undefined ? {} : { cookie: o.cookie }) },
  });
  app.get('/orders', async (request) => ({ sub: request.tokenClaims?.sub }));
  app.get('/admin', { config: { tokenwatch: { scopes: ['orders:admin'] } } }, async () => ({ ok: true }));
  app.get('/health', { config: { tokenwatch: false } }, async () => ({ ok: true }));
  app.get('/feed', { config: { tokenwatch: { optional: true } } }, async (request) => ({
    claims: request.tokenClaims,
  }));
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  apps.push(app);
  const call = (path: string, headers: Record<string, string> = {}) => fetch(`${url}${path}`, { headers });
  return { call, reporter, url };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('fastify plugin', () => {
  it('passes a valid token and hands the handler its claims', async () => {
    const { call, reporter } = await serve();
    const response = await call('/orders', bearer(await mint(key)));
    expect(response.status).toBe(200);
    expect(await response.json()).toStrictEqual({ sub: 'alice' });
    expect(reporter.last()).toMatchObject({ outcome: 'accepted', ip: '127.0.0.1' });
  });

  it('no token: 401 with a bare challenge (RFC 6750 §3.1: no error code), nothing reported', async () => {
    const { call, reporter } = await serve();
    const response = await call('/orders');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="orders"');
    expect(reporter.events).toHaveLength(0);
    expect((await call('/orders', { authorization: 'Basic dXNlcjpwdw==' })).status).toBe(401);
  });

  it('a bad token: 401 invalid_token with a description that is a valid quoted-string', async () => {
    const { call, reporter } = await serve();
    const past = Math.floor(Date.now() / 1000) - 3600;
    const response = await call('/orders', bearer(await mint(key, { iat: past - 60, exp: past })));
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer realm="orders", error="invalid_token", error_description="the access token expired"',
    );
    expect(await response.json()).toStrictEqual({
      error: 'invalid_token',
      error_description: 'the access token expired',
    });
    expect(reporter.last()).toMatchObject({ outcome: 'rejected', reason: 'expired' });

    const wrongAud = await call('/orders', bearer(await mint(key, { aud: 'other' })));
    const challenge = wrongAud.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/error="invalid_token"/);
    // the description names the claim without breaking the quoting
    expect(challenge).toMatch(/error_description="the 'aud' claim is not the one expected"$/);
  });

  it('missing scope: 403 insufficient_scope naming the scope', async () => {
    const { call } = await serve();
    const response = await call('/admin', bearer(await mint(key, { scope: 'orders:read' })));
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toMatch(
      /error="insufficient_scope".*scope="orders:admin"/,
    );
    expect(
      (await call('/admin', bearer(await mint(key, { scope: 'orders:read orders:admin' })))).status,
    ).toBe(200);
  });

  it('opted-out routes need nothing; optional routes take anonymous calls but still refuse bad tokens', async () => {
    const { call } = await serve();
    expect((await call('/health')).status).toBe(200);
    const anonymous = await call('/feed');
    expect(anonymous.status).toBe(200);
    expect(await anonymous.json()).toStrictEqual({ claims: null });
    expect((await call('/feed', bearer('garbage'))).status).toBe(401);
  });

  it('takes the client address from X-Forwarded-For only from a trusted proxy', async () => {
    const token = await mint(key);
    const trusting = await serve({ trustProxy: '127.0.0.1' });
    await trusting.call('/orders', { ...bearer(token), 'x-forwarded-for': '198.51.100.9' });
    expect(trusting.reporter.last().ip).toBe('198.51.100.9');
    const direct = await serve();
    await direct.call('/orders', { ...bearer(token), 'x-forwarded-for': '198.51.100.9' });
    expect(direct.reporter.last().ip).toBe('127.0.0.1');
  });

  it('reads the device id from the configured header, else the configured cookie', async () => {
    const token = await mint(key);
    const { call, reporter } = await serve({ cookie: 'did' });
    await call('/orders', { ...bearer(token), 'x-device': 'phone-1', 'user-agent': 'app/2' });
    expect(reporter.last()).toMatchObject({
      device_id: 'phone-1',
      device_id_source: 'header',
      user_agent: 'app/2',
    });
    await call('/orders', { ...bearer(token), cookie: 'theme=dark; did=laptop%2F7' });
    expect(reporter.last()).toMatchObject({ device_id: 'laptop/7', device_id_source: 'cookie' });
    await call('/orders', bearer(token));
    expect(reporter.last().device_id).toBeUndefined();
    expect(reporter.last().device_id_source).toBeUndefined();
  });

  it('unreachable keys: 503 with Retry-After, not a 401 the client would act on', async () => {
    const { call } = await serve({
      verifier: { key: undefined, jwksUrl: 'http://127.0.0.1:9/jwks', jwks: { timeoutMs: 300 } },
    });
    const response = await call('/orders', bearer(await mint(key)));
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
  });

  it('DPoP: the DPoP scheme and header, the method and URL checked; a bad proof is invalid_dpop_proof', async () => {
    const { call, reporter, url } = await serve({ verifier: { dpop: {} } });
    const client = await dpopKey('ES256');
    const token = await mint(key, { cnf: { jkt: client.jkt } });
    const proof = (htu: string) => dpopProof(client, { htm: 'GET', htu, accessToken: token });
    const ok = await call('/orders?x=1', {
      authorization: `DPoP ${token}`,
      dpop: await proof(`${url}/orders`),
    });
    expect(ok.status).toBe(200);
    expect(reporter.last()).toMatchObject({ reason: 'ok', proof_key_thumbprint: client.jkt });
    const wrongUrl = await call('/orders', {
      authorization: `DPoP ${token}`,
      dpop: await proof(`${url}/admin`),
    });
    expect(wrongUrl.status).toBe(401);
    expect(await wrongUrl.json()).toMatchObject({ error: 'invalid_dpop_proof' });
    const none = await call('/orders', { authorization: `DPoP ${token}` });
    expect(await none.json()).toMatchObject({ error: 'invalid_token' });
    expect(reporter.last()).toMatchObject({ reason: 'dpop_proof_missing', bound_key_thumbprint: client.jkt });
  });
});
