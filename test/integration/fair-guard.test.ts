/**
 * Drill of the guard's fairness (issue "Trust model", item 5), every part real: tokenwatch
 * (single-process mode, a child process), ClickHouse, a webhook receiver and two reference auth
 * servers — one per tenant, each reporting with its own auth-server key, each revoking its own
 * tenant's tokens (tokenwatch's one revocation URL is a small router that sends each request to its
 * tenant's server). One tenant's floods exhaust its budget and the overall one; another tenant's
 * real replay in the same window is still revoked (its reserve); and the first tenant's real replay,
 * suppressed meanwhile, is revoked once the budget frees (suppressed → pending → done, "revoked late").
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickhouse, metric, postEvents, queryRows, TENANT, unique, waitUntil } from '../support/harness.ts';
import { AUTH_REVOKE_TOKEN, type RunningAuthServer, startAuthServer } from '../support/peers.ts';
import { BERLIN, login, refresh, SAO_PAULO, startWorld, stopWorld, type World } from '../support/world.ts';

const OTHER = 'globex';
const AUTH_KEY = 'acme-auth-server-key-0123456789';
const OTHER_AUTH_KEY = 'globex-auth-server-key-0123456789';
/** the guard's window: short, so that the budget frees within the test */
const WINDOW_MS = 8000;

const ch = clickhouse();
afterAll(() => ch.close());

/** Sends each revocation to its tenant's auth server (tokenwatch has one revocation URL). */
async function startRouter(
  servers: Map<string, () => string | undefined>,
): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      let tenant = '';
      try {
        tenant = String((JSON.parse(body) as { tenant?: string }).tenant ?? '');
      } catch {}
      const target = servers.get(tenant)?.();
      if (target === undefined) {
        res.writeHead(503).end('{"error":"unavailable"}');
        return;
      }
      const headers: Record<string, string> = {};
      for (const h of ['authorization', 'content-type', 'idempotency-key'])
        if (typeof req.headers[h] === 'string') headers[h] = req.headers[h];
      fetch(`${target}${req.url ?? ''}`, { method: req.method ?? 'POST', headers, body })
        .then(async (r) => {
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
          res.end(await r.text());
        })
        .catch(() => res.writeHead(502).end('{"error":"bad_gateway"}'));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

interface OutboxRow {
  tenant: string;
  target_id: string;
  status: string;
  error: string;
  decided_ms: string;
  time_ms: string;
}

const outbox = (w: World, where: string) =>
  queryRows<OutboxRow>(
    ch,
    `SELECT tenant, target_id, status, error, decided_ms, time_ms FROM ${w.database}.revocations
     WHERE ${where} ORDER BY time_ms, status`,
  );

/** A user's family at `auth`: logged in and rotated once; returns the first (now rotated) token. */
async function rotated(auth: RunningAuthServer, user: string): Promise<string> {
  const w = { auth } as World;
  const first = await login(w, user, BERLIN, 'laptop');
  expect((await refresh(w, first.refresh_token, BERLIN, 'laptop')).status).toBe(200);
  return first.refresh_token;
}

async function familyOf(w: World, tenant: string, subject: string): Promise<string> {
  return waitUntil(`the family of ${subject}`, async () => {
    const [row] = await queryRows<{ family_id: string }>(
      ch,
      `SELECT family_id FROM ${w.database}.events WHERE tenant = '${tenant}' AND subject = '${subject}' AND type = 'issuance' LIMIT 1`,
    );
    return row?.family_id;
  });
}

describe('guard budgets one tenant cannot exhaust for another', () => {
  let w: World | undefined;
  let other: RunningAuthServer | undefined;
  let router: Server | undefined;
  beforeAll(async () => {
    const servers = new Map<string, () => string | undefined>([
      [TENANT, () => w?.auth.url],
      [OTHER, () => other?.url],
    ]);
    const r = await startRouter(servers);
    router = r.server;
    w = await startWorld({
      kafka: false,
      extra: {
        TOKENWATCH_API_KEYS: `${TENANT}:${AUTH_KEY}:auth-server,${OTHER}:${OTHER_AUTH_KEY}:auth-server`,
        TOKENWATCH_AUTH_REVOKE_URL: `${r.url}/v1/revocations`,
        TOKENWATCH_AUTH_TOKEN_URL: '',
        TOKENWATCH_AUTH_TOKEN: AUTH_REVOKE_TOKEN,
        TOKENWATCH_GUARD_TENANT_PER_MINUTE: '3',
        TOKENWATCH_GUARD_TOTAL_PER_MINUTE: '1',
        TOKENWATCH_GUARD_RESERVED_PER_TENANT_PER_MINUTE: '1',
        TOKENWATCH_GUARD_WINDOW_MS: String(WINDOW_MS),
        TOKENWATCH_GUARD_RETRY_SUPPRESSED_MS: '600000',
        TOKENWATCH_WEBHOOK_GROUP_INTERVAL_MS: '1000',
      },
      authEnv: () => ({ AUTH_TOKENWATCH_API_KEY: AUTH_KEY }),
    });
    other = await startAuthServer({
      AUTH_TOKENWATCH_URL: w.tw.url,
      AUTH_TOKENWATCH_API_KEY: OTHER_AUTH_KEY,
      AUTH_TENANT: OTHER,
      AUTH_CLIENTS: 'tokenwatch:tw-client-secret:revoke',
    });
  }, 120_000);
  afterAll(async () => {
    await stopWorld(w);
    await other?.stop();
    await new Promise((r) => router?.close(r));
  });

  it("one tenant's floods leave another tenant's real replay revoked; its own suppressed replay is revoked once the budget frees", async () => {
    const world = w!;
    const acmeAuth = world.auth;
    const otherAuth = other!;
    // Both tenants' victims, logged in and rotated at their own auth servers.
    const acmeVictim = unique('acme-victim');
    const otherVictim = unique('globex-victim');
    const acmeToken = await rotated(acmeAuth, acmeVictim);
    const otherToken = await rotated(otherAuth, otherVictim);
    const acmeFamily = await familyOf(world, TENANT, acmeVictim);
    const otherFamily = await familyOf(world, OTHER, otherVictim);

    // acme's flood: three replays its auth server reports (the auth server's word: each revokes a
    // family), in one moment — its reserve, the whole total, then refused.
    const now = Date.now();
    const flood = [0, 1, 2].map((i) => ({
      type: 'refresh',
      event_id: unique('reuse'),
      time: now + i,
      tenant: TENANT,
      subject: unique('flooded'),
      outcome: 'rejected',
      reason: 'reuse_detected',
      family_id: unique('fam'),
      token_id: unique('rt'),
      ip: SAO_PAULO,
    }));
    const posted = await postEvents(world.tw.url, flood, { key: AUTH_KEY });
    expect(posted.body.accepted).toBe(3);
    const floodIds = flood.map((e) => `'${e.family_id}'`).join(',');
    const floodRows = await waitUntil(
      'the flood decided',
      async () => {
        const rows = await outbox(world, `target_id IN (${floodIds}) AND attempt = 0`);
        return rows.filter((r) => r.status === 'pending' || r.status === 'suppressed').length >= 3 && rows;
      },
      20_000,
    );
    const firstDecided = Math.min(...floodRows.map((r) => Number(r.decided_ms)));
    expect(floodRows.filter((r) => r.status === 'suppressed')).toEqual([
      expect.objectContaining({ error: 'blast-radius guard: overall limit of 1/min' }),
    ]);

    // In the same window: acme's real replay (its budget is spent: suppressed) and globex's.
    // (the reference server answers a replay inside its grace as it likes; it reports the reuse)
    await refresh({ auth: acmeAuth } as World, acmeToken, SAO_PAULO, 'attacker-phone');
    await refresh({ auth: otherAuth } as World, otherToken, SAO_PAULO, 'attacker-phone');

    // globex's is revoked at its auth server — by its reserve: the total was full all along.
    const otherRevoked = await waitUntil(
      "globex's replay revoked",
      async () =>
        (await otherAuth.revocationLog()).find(
          (r) => r.target === 'family' && r.id === otherFamily && r.status_code === 200,
        ),
      20_000,
    );
    const [otherDecision] = await outbox(world, `target_id = '${otherFamily}' AND attempt = 0`);
    expect(otherDecision).toMatchObject({ tenant: OTHER, status: 'pending' });
    expect(Number(otherDecision!.decided_ms) - firstDecided).toBeLessThan(WINDOW_MS);
    expect(otherRevoked.received_at_ms).toBeGreaterThan(0);

    // acme's real replay was suppressed (its own limit), not lost…
    const suppressed = await waitUntil(
      "acme's replay decided",
      async () => (await outbox(world, `target_id = '${acmeFamily}'`))[0],
      20_000,
    );
    expect(suppressed.status).toBe('suppressed');
    expect(Number(suppressed.decided_ms) - firstDecided).toBeLessThan(WINDOW_MS);
    expect((await acmeAuth.revocationLog()).filter((r) => r.id === acmeFamily)).toEqual([]);

    // …and revoked once the budget frees: suppressed → pending → done, and on-call told it was late.
    await waitUntil(
      "acme's replay revoked late",
      async () =>
        (await acmeAuth.revocationLog()).find(
          (r) => r.target === 'family' && r.id === acmeFamily && r.status_code === 200,
        ),
      4 * WINDOW_MS,
    );
    const history = await waitUntil(
      "acme's revocation done",
      async () => {
        const rows = await outbox(world, `target_id = '${acmeFamily}'`);
        return rows.some((r) => r.status === 'done') && rows;
      },
      10_000,
    );
    // (each later finding of the family while the budget was spent was suppressed as well)
    const statuses = history.map((r) => r.status).filter((st, i, all) => i === 0 || all[i - 1] !== st);
    expect(statuses).toEqual(['suppressed', 'pending', 'done']);
    const retried = history.find((r) => r.status === 'pending')!;
    expect(retried.error).toContain('retried');
    expect(Number(retried.time_ms) - Number(suppressed.decided_ms)).toBeGreaterThanOrEqual(WINDOW_MS - 1000);
    // the flood's suppressed one too (its family was never issued: the auth server says not_found)
    await waitUntil(
      "the flood's suppressed revocation retried",
      async () => {
        const rows = await outbox(world, `target_id IN (${floodIds}) AND status = 'not_found'`);
        return rows.length === 3;
      },
      4 * WINDOW_MS,
    );
    const late = await waitUntil(
      'the "revoked late" alert',
      async () =>
        world.receiver.messages.find((m) => m.body.includes('Revoked late') && m.body.includes(acmeVictim)),
      10_000,
    );
    expect(late.body).toContain(acmeFamily);
    expect(
      await metric(world.tw.url, 'tokenwatch_guard_retries_total', { outcome: 'revoked' }),
    ).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
