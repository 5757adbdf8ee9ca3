import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  getJson,
  login,
  postForm,
  refresh,
  sleep,
  startServer,
  type TestServer,
} from './helpers.ts';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Verifies as a resource server would: the remote JWKS, the alg pinned, issuer and audience checked. */
function verifyRemotely(s: TestServer, token: string, alg: string) {
  const jwks = createRemoteJWKSet(new URL(`${s.url}/.well-known/jwks.json`), { cooldownDuration: 0 });
  return jwtVerify(token, jwks, { algorithms: [alg], issuer: s.url, audience: 'tokenwatch-demo-api' });
}

const rotateKey = (s: TestServer) =>
  postForm(`${s.url}/admin/keys/rotate`, {}, { authorization: `Bearer ${ADMIN_TOKEN}` });

const jwksKids = async (s: TestServer) =>
  ((await getJson(`${s.url}/.well-known/jwks.json`)).body['keys'] as { kid: string }[]).map((k) => k.kid);

describe('access tokens and the JWKS', () => {
  for (const alg of ['EdDSA', 'ES256']) {
    it(`${alg}: a login's access token verifies against the JWKS URL with every claim`, async () => {
      server = await startServer({ AUTH_SIGNING_ALG: alg });
      const grant = await login(server);
      const { payload, protectedHeader } = await verifyRemotely(server, grant.access_token, alg);
      expect(protectedHeader).toMatchObject({ alg, kid: expect.any(String), typ: 'at+jwt' });
      expect(payload).toMatchObject({
        iss: server.url,
        aud: 'tokenwatch-demo-api',
        sub: 'alice',
        jti: expect.any(String),
        sid: expect.stringMatching(/^sid_/),
        client_id: 'web',
        scope: 'api',
      });
      expect(payload.exp! - payload.iat!).toBe(900);
      expect(grant).toMatchObject({
        token_type: 'Bearer',
        expires_in: 900,
        refresh_token: expect.stringMatching(/^rt_/),
      });

      const jwks = (await getJson(`${server.url}/.well-known/jwks.json`)).body['keys'] as Record<
        string,
        unknown
      >[];
      expect(jwks).toEqual([expect.objectContaining({ kid: protectedHeader.kid, alg, use: 'sig' })]);
      expect(jwks[0]).not.toHaveProperty('d'); // public keys only
    });
  }

  it('the discovery document points at the JWKS, token and revocation endpoints', async () => {
    server = await startServer();
    const { body } = await getJson(`${server.url}/.well-known/openid-configuration`);
    expect(body).toMatchObject({
      issuer: server.url,
      jwks_uri: `${server.url}/.well-known/jwks.json`,
      token_endpoint: `${server.url}/oauth/token`,
      revocation_endpoint: `${server.url}/oauth/revoke`,
    });
  });
});

describe('key rotation', () => {
  it('keeps the old kid in the JWKS during the overlap window, then drops it', async () => {
    server = await startServer({ AUTH_KEY_OVERLAP_SECONDS: '1' });
    const before = await login(server);
    const oldKid = decodeProtectedHeader(before.access_token).kid;

    const rotated = await rotateKey(server);
    expect(rotated.status).toBe(200);
    const newKid = rotated.body['kid'];
    expect(newKid).not.toBe(oldKid);
    expect(await jwksKids(server)).toEqual([newKid, oldKid]);
    await verifyRemotely(server, before.access_token, 'EdDSA'); // still verifies during the overlap

    const after = await login(server);
    expect(decodeProtectedHeader(after.access_token).kid).toBe(newKid);

    await sleep(1100);
    expect(await jwksKids(server)).toEqual([newKid]);
    await expect(verifyRemotely(server, before.access_token, 'EdDSA')).rejects.toThrow();
    await verifyRemotely(server, after.access_token, 'EdDSA');
  });

  it('a refresh after a rotation works and is signed with the new key', async () => {
    server = await startServer();
    const grant = await login(server);
    const { body: rotated } = await rotateKey(server);
    const response = await refresh(server, grant.refresh_token);
    expect(response.status).toBe(200);
    const token = response.body['access_token'] as string;
    expect(decodeProtectedHeader(token).kid).toBe(rotated['kid']);
    await verifyRemotely(server, token, 'EdDSA');
  });

  it('admin endpoints need the admin token, and do not exist without one', async () => {
    server = await startServer();
    expect(
      (await postForm(`${server.url}/admin/keys/rotate`, {}, { authorization: 'Bearer wrong' })).status,
    ).toBe(401);
    await server.close();
    server = await startServer({ AUTH_ADMIN_TOKEN: '' });
    const response = await postForm(`${server.url}/admin/keys/rotate`, {});
    expect(response.status).toBe(404);
    expect(response.body['error']).toBe('not_found');
  });
});
