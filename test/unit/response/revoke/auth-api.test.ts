/** The revocation client against a real HTTP server on 127.0.0.1 standing in for an auth API. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AuthApiClient,
  clientCredentials,
  type RevocationRequest,
  staticToken,
} from '../../../../response/revoke/auth-api.ts';

interface Seen {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

async function serve(
  handler: (req: Seen, res: ServerResponse) => void,
): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const s = { path: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      handler(s, res);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, seen };
}

const request: RevocationRequest = {
  target: 'family',
  id: 'f1',
  tenant: 'acme',
  subject: 'u1',
  expires_at: '2026-12-01T00:00:00.000Z',
  access_jtis: [{ jti: 'j1', expires_at: '2026-11-22T10:15:00.000Z' }],
  reason: 'refresh_replay: rotated refresh token presented again',
  detection_id: 'd1',
  detector: 'refresh_replay',
  severity: 'high',
};

describe('auth API revocation client', () => {
  it('sends the contract body with Idempotency-Key and bearer token; classifies answers', async () => {
    const statuses = [200, 409, 404, 400, 503, 429];
    const { url, seen } = await serve((_req, res) => {
      const status = statuses.shift()!;
      res.writeHead(status, status === 429 ? { 'retry-after': '2' } : {}).end(`{"status":${status}}`);
    });
    const client = new AuthApiClient({
      url: `${url}/v1/revocations`,
      credentials: staticToken('s3cret'),
      timeoutMs: 2000,
    });
    const kinds = [];
    for (let i = 0; i < 6; i++)
      kinds.push(await client.revoke(request, { idempotencyKey: 'tokenwatch-abc', earlierAttempts: 0 }));
    expect(kinds.map((k) => k.kind)).toEqual(['done', 'done', 'not_found', 'failed', 'retry', 'retry']);
    expect(kinds[5]).toMatchObject({ status: 429, retryAfterMs: 2000 });
    expect(seen[0]!.path).toBe('/v1/revocations');
    expect(seen[0]!.headers['idempotency-key']).toBe('tokenwatch-abc');
    expect(seen[0]!.headers.authorization).toBe('Bearer s3cret');
    expect(JSON.parse(seen[0]!.body)).toEqual(request);
  });

  it('a 2xx whose body says denylist_only is recorded as such, never as done', async () => {
    const bodies = [
      '{"status":"denylist_only","target":"jti","id":"j1"}',
      '{"status":"revoked"}',
      '{"status":"already_revoked"}',
      'denylist_only, but not JSON',
      '{"detail":"denylist_only"}',
      '',
    ];
    const { url } = await serve((_req, res) => {
      res.writeHead(200).end(bodies.shift()!);
    });
    const client = new AuthApiClient({ url, credentials: staticToken('t'), timeoutMs: 2000 });
    const kinds = [];
    for (let i = 0; i < 6; i++)
      kinds.push((await client.revoke(request, { idempotencyKey: 'k', earlierAttempts: 0 })).kind);
    expect(kinds).toEqual(['denylist_only', 'done', 'done', 'done', 'done', 'done']);
  });

  it('a server that does not answer in time, or is not there, is a retry', async () => {
    const { url } = await serve(() => undefined); // never answers
    const slow = new AuthApiClient({ url, credentials: staticToken('t'), timeoutMs: 100 });
    const timedOut = await slow.revoke(request, { idempotencyKey: 'k', earlierAttempts: 0 });
    expect(timedOut).toMatchObject({ kind: 'retry', status: 0 });
    expect(timedOut.detail).toMatch(/within 100 ms/);
    const down = new AuthApiClient({
      url: 'http://127.0.0.1:9/revoke',
      credentials: staticToken('t'),
      timeoutMs: 500,
    });
    expect(await down.revoke(request, { idempotencyKey: 'k', earlierAttempts: 0 })).toMatchObject({
      kind: 'retry',
      status: 0,
    });
  });

  it('client credentials: fetches a token once, reuses it, renews it after a 401', async () => {
    let issued = 0;
    const { url, seen } = await serve((req, res) => {
      if (req.path === '/token') {
        issued++;
        expect(req.headers.authorization).toBe(`Basic ${Buffer.from('tokenwatch:pw').toString('base64')}`);
        expect(new URLSearchParams(req.body).get('grant_type')).toBe('client_credentials');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: `at${issued}`, token_type: 'Bearer', expires_in: 300 }));
        return;
      }
      // the first token is refused once (as if revoked at the server)
      const refused =
        req.headers.authorization === 'Bearer at1' && seen.filter((s) => s.path !== '/token').length === 3;
      res.writeHead(refused ? 401 : 200).end('{}');
    });
    const client = new AuthApiClient({
      url: `${url}/revoke`,
      timeoutMs: 1000,
      credentials: clientCredentials({
        tokenUrl: `${url}/token`,
        clientId: 'tokenwatch',
        clientSecret: 'pw',
        scope: 'revoke',
        timeoutMs: 1000,
      }),
    });
    expect((await client.revoke(request, { idempotencyKey: 'a', earlierAttempts: 0 })).kind).toBe('done');
    expect((await client.revoke(request, { idempotencyKey: 'b', earlierAttempts: 0 })).kind).toBe('done');
    expect(issued).toBe(1);
    expect((await client.revoke(request, { idempotencyKey: 'c', earlierAttempts: 0 })).kind).toBe('done'); // 401, renewed, retried at once
    expect(issued).toBe(2);
    expect(seen.filter((s) => s.path === '/revoke').map((s) => s.headers.authorization)).toEqual([
      'Bearer at1',
      'Bearer at1',
      'Bearer at1',
      'Bearer at2',
    ]);
  });

  it('a token endpoint that refuses the client is a retry that says what to check', async () => {
    const { url } = await serve((_req, res) => res.writeHead(401).end('{"error":"invalid_client"}'));
    const client = new AuthApiClient({
      url: `${url}/revoke`,
      timeoutMs: 1000,
      credentials: clientCredentials({
        tokenUrl: `${url}/token`,
        clientId: 'x',
        clientSecret: 'y',
        scope: '',
        timeoutMs: 1000,
      }),
    });
    const outcome = await client.revoke(request, { idempotencyKey: 'k', earlierAttempts: 0 });
    expect(outcome.kind).toBe('retry');
    expect(outcome.detail).toMatch(/invalid_client.*TOKENWATCH_AUTH_CLIENT_ID/);
  });
});
