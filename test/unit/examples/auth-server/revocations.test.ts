import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  claimsOf,
  clientToken,
  getJson,
  login,
  postJson,
  REVOCATION_TOKEN,
  refresh,
  startServer,
  type TestServer,
} from './helpers.ts';

let server: TestServer;
beforeEach(async () => {
  server = await startServer();
});
afterEach(() => server.close());

const revoke = (body: unknown, key: string | undefined, token = REVOCATION_TOKEN) =>
  postJson(`${server.url}/v1/revocations`, body, {
    ...(token === '' ? {} : { authorization: `Bearer ${token}` }),
    ...(key === undefined ? {} : { 'idempotency-key': key }),
  });

const me = (accessToken: string) =>
  getJson(`${server.url}/v1/me`, { authorization: `Bearer ${accessToken}` });

const revocationLog = async () =>
  (await getJson(`${server.url}/admin/revocations`, { authorization: `Bearer ${ADMIN_TOKEN}` })).body[
    'revocations'
  ] as Record<string, unknown>[];

const setFaults = (faults: Record<string, unknown>) =>
  postJson(`${server.url}/admin/faults`, faults, { authorization: `Bearer ${ADMIN_TOKEN}` });

describe('POST /v1/revocations: authentication', () => {
  it('refuses a request without a token (401 invalid_token challenge)', async () => {
    const response = await revoke({ target: 'jti', id: 'j-1' }, 'k-1', '');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('refuses a wrong token (401)', async () => {
    const response = await revoke({ target: 'jti', id: 'j-1' }, 'k-1', 'not-the-token');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('accepts the static AUTH_REVOCATION_TOKEN', async () => {
    expect((await revoke({ target: 'jti', id: 'j-1' }, 'k-1')).status).toBe(200);
  });

  it('accepts a client-credentials token with scope revoke, and refuses one without (403)', async () => {
    expect((await revoke({ target: 'jti', id: 'j-1' }, 'k-1', await clientToken(server))).status).toBe(200);
    const reader = await clientToken(server, 'reader', 'reader-secret');
    const refused = await revoke({ target: 'jti', id: 'j-2' }, 'k-2', reader);
    expect(refused.status).toBe(403);
    expect(refused.body['error']).toBe('insufficient_scope');
    // A user's token never carries scope revoke, and cannot ask for it.
    expect(
      (await revoke({ target: 'jti', id: 'j-3' }, 'k-3', (await login(server)).access_token)).status,
    ).toBe(403);
  });

  it('the static token is disabled when AUTH_REVOCATION_TOKEN is empty', async () => {
    await server.close();
    server = await startServer({ AUTH_REVOCATION_TOKEN: '' });
    expect((await revoke({ target: 'jti', id: 'j-1' }, 'k-1', '')).status).toBe(401);
  });
});

describe('POST /v1/revocations: targets', () => {
  it('jti: the access token is denied on /v1/me', async () => {
    const grant = await login(server);
    expect((await me(grant.access_token)).status).toBe(200);
    const jti = claimsOf(grant.access_token)['jti'];
    const response = await revoke({ target: 'jti', id: jti }, 'k-jti');
    expect(response.body).toMatchObject({ status: 'revoked', target: 'jti', id: jti, access_jtis_denied: 1 });
    const denied = await me(grant.access_token);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="auth-server", error="invalid_token"/,
    );
    expect((await revoke({ target: 'jti', id: jti }, 'k-jti-2')).body['status']).toBe('already_revoked');
  });

  it('session: the refresh and access tokens of its family stop working; access_jtis it did not issue for the session are ignored', async () => {
    const grant = await login(server);
    const bob = await login(server, 'bob');
    const sid = claimsOf(grant.access_token)['sid'];
    const response = await revoke(
      {
        target: 'session',
        id: sid,
        access_jtis: [
          { jti: 'elsewhere-1', expires_at: new Date(Date.now() + 60_000).toISOString() },
          // another user's token, linked by someone who should not have: not denied
          {
            jti: String(claimsOf(bob.access_token)['jti']),
            expires_at: new Date(Date.now() + 60_000).toISOString(),
          },
        ],
      },
      'k-session',
    );
    expect(response.body).toMatchObject({
      status: 'revoked',
      target: 'session',
      access_jtis_denied: 1,
      access_jtis_ignored: 2,
    });
    expect((await me(bob.access_token)).status).toBe(200);
    expect((await me(grant.access_token)).status).toBe(401);
    expect((await refresh(server, grant.refresh_token)).body['error']).toBe('invalid_grant');
    expect((await revoke({ target: 'session', id: sid }, 'k-session-2')).body['status']).toBe(
      'already_revoked',
    );
  });

  it('subject: every family of the subject is revoked and its access tokens denied; others untouched', async () => {
    const [a1, a2, bob] = [await login(server), await login(server), await login(server, 'bob')];
    const response = await revoke({ target: 'subject', id: 'alice' }, 'k-subject');
    expect(response.body).toMatchObject({ status: 'revoked', access_jtis_denied: 2 });
    for (const grant of [a1, a2]) {
      expect((await me(grant.access_token)).status).toBe(401);
      expect((await refresh(server, grant.refresh_token)).status).toBe(400);
    }
    expect((await me(bob.access_token)).status).toBe(200);
    expect((await refresh(server, bob.refresh_token)).status).toBe(200);
    // A later login of the subject is a new session and works.
    expect((await me((await login(server)).access_token)).status).toBe(200);
  });

  it('404 for a family, session or subject never seen; a jti is always accepted', async () => {
    for (const target of ['family', 'session', 'subject']) {
      const response = await revoke({ target, id: 'never-seen' }, `k-${target}`);
      expect(response.status).toBe(404);
      expect(response.body['error']).toBe('not_found');
    }
    expect((await revoke({ target: 'jti', id: 'never-seen' }, 'k-jti')).status).toBe(200);
  });

  it('400 for a bad body, naming the field and the allowed values', async () => {
    const response = await revoke({ target: 'user', id: 'x' }, 'k-1');
    expect(response.status).toBe(400);
    expect(response.body['error_description']).toContain(
      'body/target must be equal to one of the allowed values (jti, family, session, subject)',
    );
    expect((await revoke({ target: 'jti', id: 'x', expires_at: 'tomorrow' }, 'k-2')).status).toBe(400);
    expect((await revoke({ target: 'jti', id: 'x', tenant: 'other' }, 'k-3')).status).toBe(400);
  });
});

describe('POST /v1/revocations: idempotency', () => {
  it('requires an Idempotency-Key', async () => {
    const response = await revoke({ target: 'jti', id: 'j-1' }, undefined);
    expect(response.status).toBe(400);
    expect(response.body['error_description']).toContain('Idempotency-Key');
    expect((await revoke({ target: 'jti', id: 'j-1' }, 'k'.repeat(201))).status).toBe(400);
  });

  it('the same key and body is applied once and the first answer replayed', async () => {
    const grant = await login(server);
    const sid = claimsOf(grant.access_token)['sid'];
    const first = await revoke({ target: 'session', id: sid, reason: 'replay' }, 'same-key');
    const second = await revoke({ reason: 'replay', id: sid, target: 'session' }, 'same-key'); // other key order
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect(first.body['status']).toBe('revoked'); // not already_revoked: nothing was applied twice
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.headers.get('idempotent-replayed')).toBe('true');

    const log = await revocationLog();
    expect(log.map((e) => [e['idempotency_key'], e['status_code'], e['replayed']])).toEqual([
      ['same-key', 200, false],
      ['same-key', 200, true],
    ]);
  });

  it('a 404 is replayed too', async () => {
    await revoke({ target: 'family', id: 'nope' }, 'k-404');
    const again = await revoke({ target: 'family', id: 'nope' }, 'k-404');
    expect(again.status).toBe(404);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
  });

  it('the same key for another target is 422; for the same target with other details, a replay', async () => {
    await revoke({ target: 'jti', id: 'j-1' }, 'k-1');
    const response = await revoke({ target: 'jti', id: 'j-2' }, 'k-1');
    expect(response.status).toBe(422);
    expect(response.body['error']).toBe('idempotency_key_reused');
    // a resumed revocation may carry more linked access tokens or another reason: still the same one
    const resumed = await revoke({ target: 'jti', id: 'j-1', reason: 'resumed after a restart' }, 'k-1');
    expect(resumed.status).toBe(200);
    expect(resumed.headers.get('idempotent-replayed')).toBe('true');
  });
});

describe('fault injection', () => {
  it('unavailable: 503 with Retry-After: 1, logged as received; ok again afterwards', async () => {
    expect((await setFaults({ revocations: 'unavailable' })).status).toBe(200);
    const refused = await revoke({ target: 'jti', id: 'j-1' }, 'k-1');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');

    await setFaults({ revocations: 'ok' });
    const retried = await revoke({ target: 'jti', id: 'j-1' }, 'k-1');
    expect(retried.status).toBe(200);
    expect(retried.headers.get('idempotent-replayed')).toBeNull(); // the 503 applied nothing

    const log = await revocationLog();
    expect(log).toEqual([
      expect.objectContaining({ idempotency_key: 'k-1', status_code: 503, replayed: false }),
      expect.objectContaining({ idempotency_key: 'k-1', target: 'jti', id: 'j-1', status_code: 200 }),
    ]);
    expect(log[1]!['received_at_ms']).toBeGreaterThanOrEqual(log[0]!['received_at_ms'] as number);
  });

  it('slow: answers after slow_ms', async () => {
    await setFaults({ revocations: 'slow', slow_ms: 300 });
    const started = Date.now();
    expect((await revoke({ target: 'jti', id: 'j-1' }, 'k-1')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('rejects an unknown fault mode', async () => {
    expect((await setFaults({ revocations: 'broken' })).status).toBe(400);
  });
});
