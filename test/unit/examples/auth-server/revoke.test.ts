import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventReceiver, getJson, login, postForm, refresh, startServer, type TestServer } from './helpers.ts';

let server: TestServer;
let receiver: EventReceiver;
beforeEach(async () => {
  receiver = await new EventReceiver().start();
  server = await startServer({ AUTH_TOKENWATCH_URL: receiver.url, AUTH_TOKENWATCH_API_KEY: 'tw-api-key' });
});
afterEach(async () => {
  await server.close();
  await receiver.close();
});

const basic = (id: string, secret: string) => ({
  authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
});
const revoke = (
  fields: Record<string, string>,
  headers: Record<string, string> = basic('reader', 'reader-secret'),
) => postForm(`${server.url}/oauth/revoke`, fields, headers);

describe('POST /oauth/revoke (RFC 7009)', () => {
  it('a refresh token: its family is revoked and reported', async () => {
    const grant = await login(server);
    const rotated = await refresh(server, grant.refresh_token);
    const response = await revoke({
      token: rotated.body['refresh_token'] as string,
      token_type_hint: 'refresh_token',
    });
    expect(response.status).toBe(200);
    expect((await refresh(server, grant.refresh_token)).status).toBe(400);
    await receiver.waitFor((events) => events.some((e) => e['type'] === 'revocation'));
    expect(receiver.events.find((e) => e['type'] === 'revocation')).toMatchObject({
      subject: 'alice',
      client_id: 'web',
      family_id: expect.stringMatching(/^fam_/),
    });
  });

  it('an access token: its jti is denied until it expires', async () => {
    const grant = await login(server);
    const response = await revoke({ token: grant.access_token }, {});
    expect(response.status).toBe(401); // no client authentication
    expect(response.body['error']).toBe('invalid_client');

    expect(
      (await revoke({ token: grant.access_token, client_id: 'reader', client_secret: 'reader-secret' }, {}))
        .status,
    ).toBe(200);
    const me = await getJson(`${server.url}/v1/me`, { authorization: `Bearer ${grant.access_token}` });
    expect(me.status).toBe(401);
    // The refresh token was not revoked: the session goes on with a new access token.
    expect((await refresh(server, grant.refresh_token)).status).toBe(200);
  });

  it('200 for an unknown or invalid token; 401 for a wrong secret; 400 for an unsupported hint', async () => {
    expect((await revoke({ token: 'rt_nothing.here' })).status).toBe(200);
    expect((await revoke({ token: 'eyJhbGciOiJub25lIn0.e30.' })).status).toBe(200);
    const wrong = await revoke({ token: 'x' }, basic('reader', 'nope'));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Basic realm="auth-server"');
    const hint = await revoke({ token: 'x', token_type_hint: 'id_token' });
    expect(hint.status).toBe(400);
    expect(hint.body['error']).toBe('unsupported_token_type');
  });
});
