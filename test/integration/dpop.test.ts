/**
 * DPoP (RFC 9449) end to end: tokenwatch in single-process mode and the reference auth server (child
 * processes), and a resource API built with the SDK's fastify plugin with DPoP checking on, in this
 * process, reporting over HTTP and polling GET /v1/revocations for its denylist.
 * - a token bound to key A presented with a proof by key B is refused (dpop_key_mismatch), and
 *   tokenwatch revokes its family at the auth server: the family's refresh token stops working and
 *   the token is refused as revoked even with key A's proof;
 * - the same key from two continents (a VPN switched on) is accepted both times and alerts only:
 *   impossible_travel at medium severity, nothing revoked.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenwatchPlugin } from '../../sdk/src/fastify.ts';
import {
  createHttpReporter,
  createVerifier,
  Denylist,
  pollRevocations,
  type RevocationFollower,
} from '../../sdk/src/index.ts';
import { type DpopKey, dpopKey, dpopProof } from '../support/dpop.ts';
import { API_KEY, clickhouse, queryRows, TENANT, unique, waitUntil } from '../support/harness.ts';
import { BERLIN, refresh, SAO_PAULO, startWorld, stopWorld, type World } from '../support/world.ts';

const ch = clickhouse();
let w: World | undefined;
let app: FastifyInstance;
let url: string;
let reporter: ReturnType<typeof createHttpReporter>;
let denylist: Denylist;
let poller: RevocationFollower;
const SOURCE = unique('dpop-api');

beforeAll(async () => {
  w = await startWorld({ kafka: false });
  reporter = createHttpReporter({ url: w.tw.url, apiKey: API_KEY, retryMaxMs: 1000 });
  denylist = new Denylist();
  poller = pollRevocations({ url: w.tw.url, apiKey: API_KEY, denylist, intervalMs: 250 });
  const verifier = createVerifier({
    issuer: w.auth.url,
    audience: 'tokenwatch-demo-api',
    jwksUrl: `${w.auth.url}/.well-known/jwks.json`,
    algorithms: ['EdDSA'],
    typ: 'at+jwt',
    reporter,
    tenant: TENANT,
    source: SOURCE,
    denylist,
    dpop: {},
  });
  app = Fastify({ trustProxy: '127.0.0.1' });
  await app.register(tokenwatchPlugin, { verifier });
  app.get('/orders', async (request) => ({ subject: request.tokenClaims?.sub, orders: [] }));
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  await poller.ready;
});
afterAll(async () => {
  await app?.close();
  await poller?.close();
  await reporter?.close();
  denylist?.close();
  await stopWorld(w);
  await ch.close();
});

/** GET /orders with the token and a fresh DPoP proof by `key`, as a client at `ip`. */
async function call(token: string, key: DpopKey, ip: string) {
  const proof = await dpopProof(key, { htm: 'GET', htu: `${url}/orders`, accessToken: token });
  const res = await fetch(`${url}/orders`, {
    headers: {
      authorization: `DPoP ${token}`,
      dpop: proof,
      'x-forwarded-for': ip,
      'user-agent': 'Mozilla/5.0',
      'x-device-id': 'laptop',
    },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Logs in with the client's DPoP key: the family's access tokens are bound to it. */
async function loginBound(user: string, key: DpopKey) {
  const res = await w!.auth.token(
    { grant_type: 'password', username: user, password: user, dpop_jkt: key.jkt },
    BERLIN,
    'laptop',
  );
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body['token_type']).toBe('DPoP');
  return res.body as { access_token: string; refresh_token: string };
}

const detections = (user: string) =>
  queryRows<{ detector: string; severity: string; action: string; response: string; target_kind: string }>(
    ch,
    `SELECT detector, severity, action, response, target_kind FROM ${w!.database}.detections FINAL WHERE subject = '${user}'`,
  );
const revocations = (user: string) =>
  queryRows<{ target_kind: string; status: string; detector: string }>(
    ch,
    `SELECT target_kind, status, detector FROM ${w!.database}.revocations WHERE subject = '${user}' ORDER BY time_ms`,
  );

describe('DPoP through the SDK fastify plugin, end to end', () => {
  it('bound to key A, proved by key B: refused, and the family is revoked at the auth server', async () => {
    const user = unique('dpop-victim');
    const [a, b] = await Promise.all([dpopKey('ES256'), dpopKey('ES256')]);
    const grant = await loginBound(user, a);
    expect((await call(grant.access_token, a, BERLIN)).status).toBe(200);

    const stolen = await call(grant.access_token, b, SAO_PAULO);
    expect(stolen.status).toBe(401);
    expect(stolen.body['error']).toBe('invalid_token');
    expect(String(stolen.body['error_description'])).toMatch(/another key/);

    const stored = await waitUntil(
      'the mismatch stored with both thumbprints',
      async () => {
        const rows = await queryRows<{ bound_key_thumbprint: string; proof_key_thumbprint: string }>(
          ch,
          `SELECT bound_key_thumbprint, proof_key_thumbprint FROM ${w!.database}.events FINAL
           WHERE subject = '${user}' AND reason = 'dpop_key_mismatch'`,
        );
        return rows.length > 0 && rows;
      },
      15_000,
    );
    expect(stored).toEqual([{ bound_key_thumbprint: a.jkt, proof_key_thumbprint: b.jkt }]);

    const familyRevoked = { target_kind: 'family', status: 'done', detector: 'key_mismatch' };
    const done = await waitUntil(
      'the family revoked',
      async () => {
        const r = await revocations(user);
        return r.some((x) => JSON.stringify(x) === JSON.stringify(familyRevoked)) && r;
      },
      20_000,
    );
    // (São Paulo half an hour's flight from Berlin in a second is impossible travel too: its jti goes as well)
    expect(done.filter((r) => r.status === 'done' && r.target_kind === 'family')).toEqual([familyRevoked]);
    expect(await detections(user)).toContainEqual(
      expect.objectContaining({ detector: 'key_mismatch', severity: 'critical', response: 'revoke' }),
    );
    // the auth server revoked the family: its refresh token is refused …
    expect((await refresh(w!, grant.refresh_token, BERLIN, 'laptop')).status).toBe(400);
    // … and the access token is denied at the API even with its own key's proof
    await waitUntil(
      'the bound token refused as revoked',
      async () => {
        const res = await call(grant.access_token, a, BERLIN);
        return res.status === 401 && /revoked/.test(String(res.body['error_description']));
      },
      10_000,
      50,
    );
  });

  it('the same key from two continents: accepted both times, an alert only, nothing revoked', async () => {
    const user = unique('dpop-vpn');
    const a = await dpopKey('EdDSA');
    const grant = await loginBound(user, a);
    expect((await call(grant.access_token, a, BERLIN)).status).toBe(200);
    expect((await call(grant.access_token, a, SAO_PAULO)).status).toBe(200);

    const found = await waitUntil(
      'the travel alert',
      async () => {
        const d = await detections(user);
        return d.some((x) => x.detector === 'impossible_travel') && d;
      },
      20_000,
    );
    const travel = found.filter((d) => d.detector === 'impossible_travel');
    expect(travel.length).toBeGreaterThan(0);
    for (const d of travel) expect(d).toMatchObject({ severity: 'medium', action: 'alert_only' });
    expect(found.filter((d) => d.response === 'revoke')).toEqual([]);
    // a moment for a revocation that should not come
    await new Promise((r) => setTimeout(r, 3000));
    expect(await revocations(user)).toEqual([]);
    expect((await call(grant.access_token, a, SAO_PAULO)).status).toBe(200);
    expect((await refresh(w!, grant.refresh_token, SAO_PAULO, 'laptop')).status).toBe(200);
  });
});
