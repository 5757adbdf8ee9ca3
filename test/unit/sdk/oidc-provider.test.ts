/**
 * The oidc-provider entry point's pieces on a real (in-process, in-memory) node-oidc-provider: token
 * ids hashed, the provider's refusals mapped to contract reasons, and the revocation endpoint on the
 * provider's models — authentication, validation, a grant destroyed, idempotency by key and by family.
 */
import Provider from 'oidc-provider';
import { describe, expect, it } from 'vitest';
import { hashTokenId, refreshErrorReason, revocationHandler } from '../../../sdk/src/oidc-provider.ts';

const TOKEN = 'revoke-token-0123456789';
const provider = new Provider('http://127.0.0.1:1', {
  features: { devInteractions: { enabled: false } },
  ttl: { Grant: 3600 },
  clients: [
    { client_id: 'app', client_secret: 'app-secret-0123456789', redirect_uris: ['http://127.0.0.1:2/cb'] },
  ],
});
const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const handler = revocationHandler(provider as never, { token: TOKEN, tenant: 'acme', logger: quiet });
const call = (body: unknown, key: string = crypto.randomUUID(), token = TOKEN) =>
  handler.handle({
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'idempotency-key': key },
    body,
  });

describe('oidc-provider: token ids and reasons', () => {
  it('hashes a token value: SHA-256 base64url behind a prefix, never the value', () => {
    const h = hashTokenId('opaque-token-value');
    expect(h).toMatch(/^sha256:[A-Za-z0-9_-]{43}$/);
    expect(h).not.toContain('opaque');
    expect(hashTokenId('opaque-token-value', 'op:')).toBe(`op:${h.slice(7)}`);
  });
  it("maps the provider's error_detail to a refresh reason", () => {
    expect(refreshErrorReason('refresh token already used')).toBe('reuse_detected');
    expect(refreshErrorReason('refresh token is expired')).toBe('expired');
    expect(refreshErrorReason('refresh token not found')).toBe('invalid');
    expect(refreshErrorReason(undefined)).toBe('other');
  });
});

describe('oidc-provider: the revocation endpoint on the models', () => {
  it('refuses without the token, without a key, with a bad body or another tenant', async () => {
    expect((await call({ target: 'family', id: 'x' }, 'k', 'wrong-token-0123456789')).status).toBe(401);
    const noKey = await handler.handle({
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: {},
    });
    expect(noKey.status).toBe(400);
    expect((await call({ target: 'everything', id: 'x' })).body['error']).toBe('invalid_request');
    expect((await call({ target: 'family', id: '' })).status).toBe(400);
    expect((await call({ target: 'family', id: 'x', tenant: 'other' })).status).toBe(400);
    expect(() => revocationHandler(provider as never, { token: 'short' })).toThrow(/at least 16/);
  });

  it('destroys a grant and answers already_revoked after; an unknown family is 404', async () => {
    const grant = new provider.Grant({ accountId: 'alice', clientId: 'app' });
    grant.addOIDCScope('openid offline_access');
    const grantId = await grant.save();
    expect(await provider.Grant.find(grantId)).toBeDefined();
    const first = await call({ target: 'family', id: grantId }, 'key-1');
    expect([first.status, first.body['status']]).toEqual([200, 'revoked']);
    expect(await provider.Grant.find(grantId)).toBeUndefined();
    const retried = await call({ target: 'family', id: grantId }, 'key-1');
    expect([retried.status, retried.body['status'], retried.headers['idempotent-replayed']]).toEqual([
      200,
      'revoked',
      'true',
    ]);
    expect((await call({ target: 'family', id: grantId }, 'key-2')).body['status']).toBe('already_revoked');
    expect((await call({ target: 'session', id: grantId }, 'key-1')).status).toBe(422);
    expect((await call({ target: 'family', id: 'never-issued' })).status).toBe(404);
  });

  it("revokes a subject's grants seen saved; a jti is denylist_only", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const g = new provider.Grant({ accountId: 'bob', clientId: 'app' });
      ids.push(await g.save());
    }
    const res = await call({ target: 'subject', id: 'bob' });
    expect([res.status, res.body['grants_revoked']]).toEqual([200, 2]);
    for (const id of ids) expect(await provider.Grant.find(id)).toBeUndefined();
    expect((await call({ target: 'subject', id: 'nobody' })).status).toBe(404);
    expect((await call({ target: 'jti', id: 'a-jwt-id' })).body['status']).toBe('denylist_only');
  });
});
