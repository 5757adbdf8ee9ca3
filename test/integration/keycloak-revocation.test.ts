/**
 * The Keycloak revocation adapter end to end, every part real: a Keycloak (26.x, start-dev on
 * loopback) with tokenwatch's listener reporting to tokenwatch (single-process mode, ClickHouse),
 * and tokenwatch revoking through Keycloak's admin API (TOKENWATCH_REVOKE_ADAPTER=keycloak) as the
 * realm's service account — through a small proxy on loopback that forwards to Keycloak and, when
 * told to, answers 503 itself, loses Keycloak's answer or holds a call. A refresh token replayed
 * from another network gets its user session deleted at Keycloak, with Keycloak's reuse detection
 * off and on; the thief's and the user's next refresh are refused. Faults: Keycloak answering 503
 * for 30 s, Keycloak killed (SIGKILL) while the delete is on its way and started again (its
 * sessions survive in its H2 data), and a lost answer each end in one revocation done and one
 * delete that Keycloak carried out; a finding on one access token is recorded denylist_only, never
 * sent. Prints its figures (attempts, times to done) when it ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RevocationRequest } from '../../response/revoke/adapter.ts';
import { KeycloakRevocationAdapter } from '../../response/revoke/keycloak/adapter.ts';
import {
  type KeycloakServerOptions,
  type RunningKeycloak,
  startKeycloak,
  stopKeycloak,
} from '../../tools/local-stack/keycloak.ts';
import { adminCall, masterAdminToken } from '../../tools/local-stack/keycloak-admin.ts';
import { ensureListenerJar } from '../../tools/local-stack/keycloak-listener-jar.ts';
import { type SetUpRealm, setupRealm } from '../../tools/local-stack/keycloak-realm.ts';
import {
  claims,
  jti,
  type KeycloakClient,
  passwordLogin,
  refresh,
} from '../../tools/local-stack/keycloak-user.ts';
import { freePort } from '../../tools/local-stack/process.ts';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.ts';
import {
  API_KEY,
  clickhouse,
  metric,
  postEvents,
  queryRows,
  type RunningService,
  serviceSetup,
  startService,
  TENANT,
  unique,
  waitUntil,
} from '../support/harness.ts';

const VICTIM_IP = '85.214.132.117';
const ATTACKER_IP = '200.147.67.142';
const PASSWORD = 'correct-horse-battery';

interface RevocationRow {
  target_kind: string;
  target_id: string;
  status: string;
  attempt: number;
  http_status: number;
  error: string;
  detector: string;
  time_ms: string;
}

const ch = clickhouse();
const figures: Record<string, number> = {};

describe('Keycloak revocation adapter: a replay found by tokenwatch ends the session at Keycloak', () => {
  let dir: string;
  let database: string;
  let svc: RunningService;
  let kc: RunningKeycloak;
  /** how it was started: a restart starts it so again (same port, home and data) */
  let kcOptions: KeycloakServerOptions;
  let realm: SetUpRealm;
  let proxy: FaultProxy;
  const client = (): KeycloakClient => ({ url: kc.url, realm: realm.realm, clientId: realm.userClientId });

  const revocationsOf = (targetId: string) =>
    queryRows<RevocationRow>(
      ch,
      `SELECT toString(target_kind) AS target_kind, target_id, toString(status) AS status, attempt, http_status,
         error, detector, toString(time_ms) AS time_ms
       FROM ${database}.revocations WHERE target_id = '${targetId}' ORDER BY time_ms, attempt`,
    );
  const settled = (
    targetId: string,
    final = ['done', 'not_found', 'failed', 'denylist_only'],
    timeoutMs = 60_000,
  ) =>
    waitUntil(
      `the revocation of ${targetId} to end`,
      async () => {
        const rows = await revocationsOf(targetId);
        return rows.some((r) => final.includes(r.status)) && rows;
      },
      timeoutMs,
    );
  /** what the proxy let through to Keycloak for the session's delete */
  const deletesOf = (sid: string) =>
    proxy.passed.filter(
      (p) => p.method === 'DELETE' && p.path === `/admin/realms/${realm.realm}/sessions/${sid}`,
    );

  /** Login and a rotation by the victim, then the old refresh token replayed by the thief. */
  async function replayStory(username: string) {
    const c = client();
    const t1 = await passwordLogin(c, username, PASSWORD, VICTIM_IP);
    const rotated = await refresh(c, t1.refresh_token!, VICTIM_IP);
    expect(rotated.status).toBe(200);
    const replay = await refresh(c, t1.refresh_token!, ATTACKER_IP);
    const replayedAt = Date.now();
    const sid = String(claims(t1.access_token)['sid']);
    return {
      t1,
      userToken: (rotated.body as { refresh_token: string }).refresh_token,
      replay,
      replayedAt,
      sid,
      family: `${sid}:${c.clientId}`,
    };
  }

  const setReuseDetection = async (on: boolean) => {
    const token = await masterAdminToken(kc.url, kc.adminUsername, kc.adminPassword);
    await adminCall(kc.url, token, 'PUT', `/${realm.realm}`, {
      body: { revokeRefreshToken: on, refreshTokenMaxReuse: 0 },
      expect: [204],
    });
  };

  beforeAll(async () => {
    dir = mkdtempSync(`${tmpdir()}/tokenwatch-keycloak-revoke-`);
    const twPort = await freePort();
    const twUrl = `http://127.0.0.1:${twPort}`;
    const jar = await ensureListenerJar();
    kcOptions = {
      dir: `${dir}/keycloak`,
      httpPort: await freePort(),
      providers: [jar],
      options: {
        'proxy-headers': 'xforwarded',
        'spi-events-listener--tokenwatch--url': twUrl,
        'spi-events-listener--tokenwatch--api-key': API_KEY,
        'spi-events-listener--tokenwatch--tenant': TENANT,
        'spi-events-listener--tokenwatch--linger-ms': '50',
        'spi-events-listener--tokenwatch--max-backoff-ms': '1000',
      },
    };
    kc = await startKeycloak(kcOptions);
    const token = await masterAdminToken(kc.url, kc.adminUsername, kc.adminPassword);
    realm = await setupRealm(kc.url, token, {
      realm: unique('kc_revoke'),
      reuseDetection: false,
      eventListeners: ['jboss-logging', 'tokenwatch'],
      sslRequired: 'none',
      users: ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'].map((username) => ({
        username,
        password: PASSWORD,
      })),
    });
    proxy = await startFaultProxy(kc.url);
    const setup = serviceSetup({
      kafka: false,
      extra: {
        TOKENWATCH_PORT: String(twPort),
        TOKENWATCH_REVOKE_ADAPTER: 'keycloak',
        TOKENWATCH_KEYCLOAK_URL: proxy.url,
        TOKENWATCH_KEYCLOAK_REALM: realm.realm,
        TOKENWATCH_KEYCLOAK_CLIENT_ID: realm.tokenwatchClientId,
        TOKENWATCH_KEYCLOAK_CLIENT_SECRET: realm.tokenwatchClientSecret,
        TOKENWATCH_AUTH_RETRY_BASE_MS: '200',
        TOKENWATCH_AUTH_RETRY_MAX_MS: '1000',
        TOKENWATCH_AUTH_BREAKER_FAILURES: '3',
        TOKENWATCH_AUTH_BREAKER_COOLDOWN_MS: '500',
        // a Keycloak just started again answers its first admin calls slowly on a busy machine; a
        // deadline shorter than that retries a delete still being carried out, and both reach it
        TOKENWATCH_KEYCLOAK_TIMEOUT_MS: '20000',
        // the 20 replays below and the tests' own stay under the blast-radius guard
        TOKENWATCH_GUARD_TENANT_PER_MINUTE: '100',
      },
    });
    database = setup.database;
    svc = await startService(setup.env);
  }, 900_000);

  afterAll(async () => {
    if (dir !== undefined) await stopKeycloak(`${dir}/keycloak`);
    await svc?.stop();
    await proxy?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await ch.close();
    console.error(`[keycloak revocation figures] ${JSON.stringify(figures)}`);
  }, 60_000);

  it("reuse detection off (Keycloak's default): the replay succeeds at Keycloak; tokenwatch's finding deletes the session there", async () => {
    const s = await replayStory('alice');
    expect(s.replay.status).toBe(200);
    const thiefToken = (s.replay.body as { refresh_token: string }).refresh_token;
    const rows = await settled(s.family);
    expect(rows.map((r) => [r.target_kind, r.status, r.http_status])).toEqual([
      ['family', 'pending', 0],
      ['family', 'done', 204],
    ]);
    expect(rows[0]!.detector).toBe('refresh_replay');
    const deletes = deletesOf(s.sid);
    expect(deletes.map((d) => d.upstream)).toEqual([204]);
    figures['replay → session deleted at Keycloak (reuse detection off), ms'] =
      deletes[0]!.atMs - s.replayedAt;
    // the thief's and the user's next refresh are refused: the session is gone
    const c = client();
    for (const rt of [thiefToken, s.userToken])
      expect(await refresh(c, rt, ATTACKER_IP)).toEqual({
        status: 400,
        body: { error: 'invalid_grant', error_description: 'Session not active' },
      });
  });

  it('reuse detection on: Keycloak refuses the replay; tokenwatch ingests the REFRESH_TOKEN_ERROR and still deletes the session', async () => {
    await setReuseDetection(true);
    try {
      const s = await replayStory('bob');
      expect(s.replay).toEqual({
        status: 400,
        body: { error: 'invalid_grant', error_description: 'Maximum allowed refresh token reuse exceeded' },
      });
      const rows = await settled(s.family);
      expect(rows.map((r) => [r.status, r.http_status])).toEqual([
        ['pending', 0],
        ['done', 204],
      ]);
      const deletes = deletesOf(s.sid);
      expect(deletes.map((d) => d.upstream)).toEqual([204]);
      figures['replay → session deleted at Keycloak (reuse detection on), ms'] =
        deletes[0]!.atMs - s.replayedAt;
      // Keycloak dropped only the client session; tokenwatch ended the user session itself
      const bob = realm.users.find((u) => u.username === 'bob')!;
      const token = await masterAdminToken(kc.url, kc.adminUsername, kc.adminPassword);
      const sessions = await adminCall<unknown[]>(
        kc.url,
        token,
        'GET',
        `/${realm.realm}/users/${bob.id}/sessions`,
        {
          expect: [200],
        },
      );
      expect(sessions.body).toEqual([]);
      expect((await refresh(client(), s.userToken, VICTIM_IP)).status).toBe(400);
    } finally {
      await setReuseDetection(false);
    }
  });

  it('20 replays one after another: each session deleted at Keycloak once (p50/p99 from the replay to the delete acknowledged)', async () => {
    const ms: number[] = [];
    for (let i = 0; i < 20; i++) {
      const s = await replayStory('alice');
      await settled(s.family, ['done']);
      const deletes = deletesOf(s.sid);
      expect(deletes.map((d) => d.upstream)).toEqual([204]);
      ms.push(deletes[0]!.atMs - s.replayedAt);
    }
    ms.sort((a, b) => a - b);
    figures['20 replays → delete acknowledged, p50 ms'] = ms[Math.floor(ms.length * 0.5)]!;
    figures['20 replays → delete acknowledged, p99 ms'] = ms[Math.ceil(ms.length * 0.99) - 1]!;
  });

  /** the proxy's record of the realm's token endpoint (tokenwatch's service-account token) */
  const tokenRequests = () =>
    proxy.passed.filter(
      (p) => p.method === 'POST' && p.path === `/realms/${realm.realm}/protocol/openid-connect/token`,
    );
  const isSessionDelete = (m: string, p: string) =>
    m === 'DELETE' && p.startsWith(`/admin/realms/${realm.realm}/sessions/`);

  it('Keycloak answering 503 for 30 s: the revocation is retried with backoff and done once, right after', async () => {
    const began = Date.now();
    const upAtMs = began + 30_000;
    proxy.downUntil(upAtMs);
    const s = await replayStory('carol');
    const rows = await settled(s.family, undefined, 90_000);
    const statuses = rows.map((r) => r.status);
    expect(statuses[0]).toBe('pending');
    expect(statuses.at(-1)).toBe('done');
    expect(statuses.filter((x) => x === 'done')).toHaveLength(1);
    const retrying = rows.filter((r) => r.status === 'retrying');
    expect(retrying.length).toBeGreaterThanOrEqual(2);
    // each refused call is one attempt: a DELETE the proxy answered 503, or (were the cached
    // service-account token to expire in the outage) a token request it answered 503 (no answer: 0)
    expect(retrying.every((r) => r.http_status === 503 || r.http_status === 0)).toBe(true);
    const deletes = deletesOf(s.sid);
    const refusedTokens = tokenRequests().filter((t) => t.atMs >= began && t.upstream === 0);
    expect(retrying.filter((r) => r.http_status === 503).length).toBe(
      deletes.filter((d) => d.upstream === 0).length,
    );
    expect(retrying.filter((r) => r.http_status === 0).length).toBe(refusedTokens.length);
    // Keycloak itself got exactly one delete, after the outage
    const reached = deletes.filter((d) => d.upstream !== 0);
    expect(reached.map((d) => d.upstream)).toEqual([204]);
    expect(reached[0]!.atMs).toBeGreaterThanOrEqual(upAtMs);
    expect((await refresh(client(), s.userToken, VICTIM_IP)).status).toBe(400);
    figures['503 for 30 s: attempts until done'] = rows.at(-1)!.attempt;
    figures['503 for 30 s: end of the outage → delete acknowledged, ms'] = reached[0]!.atMs - upAtMs;
  });

  it('Keycloak killed (SIGKILL) while the delete is on its way, then started again: done once, one delete after it is back', async () => {
    const c = client();
    const frank = realm.users.find((u) => u.username === 'frank')!;
    // a bystander session of the same user, left alone: whether it is there after the crash tells
    // whether Keycloak's sessions survive a crash (start-dev keeps them in its H2 data folder)
    const bystander = await passwordLogin(c, 'frank', PASSWORD, VICTIM_IP);
    const bystanderSid = String(claims(bystander.access_token)['sid']);
    const held = proxy.holdNext(isSessionDelete);
    const s = await replayStory('frank');
    let killedAtMs = 0;
    let restartMs = 0;
    try {
      await held.arrived; // tokenwatch's delete is in flight: the proxy holds it
      // A real replay comes long after its session was written; this one comes within a second or
      // two, and a SIGKILL loses what H2 had not yet written (observed: the fresh session gone, the
      // delete after the restart 404). So the session gets a moment to be written before the crash,
      // well within the held call's deadline (TOKENWATCH_KEYCLOAK_TIMEOUT_MS, 5 s).
      await new Promise((r) => setTimeout(r, 2500));
      expect(await stopKeycloak(kcOptions.dir, { crash: true })).toEqual({ stopped: true });
      killedAtMs = Date.now();
      held.release(); // it goes on to a Keycloak that is gone
      await waitUntil(
        'tokenwatch to retry the delete Keycloak did not answer',
        async () => (await revocationsOf(s.family)).some((r) => r.status === 'retrying'),
        30_000,
      );
    } finally {
      held.release();
      const began = Date.now();
      kc = await startKeycloak(kcOptions);
      restartMs = Date.now() - began;
    }
    const rows = await settled(s.family, undefined, 90_000);
    expect(rows[0]!.status).toBe('pending');
    expect(rows.at(-1)!.status).toBe('done');
    expect(rows.filter((r) => r.status === 'done')).toHaveLength(1);
    expect(rows.slice(1, -1).every((r) => r.status === 'retrying')).toBe(true);
    const deletes = deletesOf(s.sid);
    // the held one reached nobody, nor did the retries while Keycloak was down
    expect(deletes.filter((d) => d.atMs < killedAtMs)).toEqual([]);
    const reached = deletes.filter((d) => d.upstream !== 0);
    console.error(
      `[keycloak crash] ${deletes.length - reached.length} deletes not answered by Keycloak (held, then down); ` +
        `reached it (ms after the kill: came, answered, its answer): ${JSON.stringify(
          reached.map((d) => [d.cameMs - killedAtMs, d.atMs - killedAtMs, d.upstream]),
        )}`,
    );
    // the sessions survived the crash (the bystander is still there): the one delete found its target
    const token = await masterAdminToken(kc.url, kc.adminUsername, kc.adminPassword);
    const left = await adminCall<{ id: string }[]>(
      kc.url,
      token,
      'GET',
      `/${realm.realm}/users/${frank.id}/sessions`,
      {
        expect: [200],
      },
    );
    expect(left.body.map((x) => x.id)).toEqual([bystanderSid]);
    expect(reached.map((d) => d.upstream)).toEqual([204]);
    expect(rows.at(-1)!.http_status).toBe(204);
    const thiefToken = (s.replay.body as { refresh_token: string }).refresh_token;
    for (const rt of [thiefToken, s.userToken])
      expect(await refresh(c, rt, ATTACKER_IP)).toEqual({
        status: 400,
        body: { error: 'invalid_grant', error_description: 'Session not active' },
      });
    expect((await refresh(c, bystander.refresh_token!, VICTIM_IP)).status).toBe(200);
    figures['Keycloak crash: restart (warm start), ms'] = restartMs;
    figures['Keycloak crash: attempts until done'] = rows.at(-1)!.attempt;
    figures['Keycloak crash: kill → delete acknowledged, ms'] = reached[0]!.atMs - killedAtMs;
  });

  it("Keycloak's answer lost after it deleted the session: the retry's 404 counts as done", async () => {
    proxy.loseAnswers(1, isSessionDelete);
    const s = await replayStory('dave');
    const rows = await settled(s.family);
    expect(rows.map((r) => [r.status, r.http_status])).toEqual([
      ['pending', 0],
      ['retrying', 503],
      ['done', 404],
    ]);
    expect(deletesOf(s.sid).map((d) => [d.status, d.upstream])).toEqual([
      [503, 204],
      [404, 404],
    ]);
  });

  it('a finding on one access token is recorded denylist_only: Keycloak is not called, the notice is published', async () => {
    const erin = realm.users.find((u) => u.username === 'erin')!;
    const t = await passwordLogin(client(), 'erin', PASSWORD, VICTIM_IP);
    const accessJti = jti(t.access_token);
    const before = proxy.passed.length;
    const now = Date.now();
    const verification = (n: number, ip: string, at: number) => ({
      event_id: unique(`verify-${n}`),
      type: 'verification',
      time: at,
      tenant: TENANT,
      source: 'orders-api',
      subject: erin.id,
      ip,
      outcome: 'accepted',
      reason: 'ok',
      jti: accessJti,
      iss: `${kc.url}/realms/${realm.realm}`,
      exp: Math.floor(now / 1000) + 300,
    });
    const posted = await postEvents(svc.url, [
      verification(1, VICTIM_IP, now - 60_000),
      verification(2, ATTACKER_IP, now),
    ]);
    expect(posted.status).toBe(200);
    const rows = await settled(accessJti);
    expect(rows.map((r) => [r.target_kind, r.status, r.http_status])).toEqual([
      ['jti', 'pending', 0],
      ['jti', 'denylist_only', 0],
    ]);
    expect(rows[1]!.error).toContain("only the verifiers' denylists stop it");
    expect(
      proxy.passed.slice(before).filter((p) => p.method !== 'POST' || !p.path.includes('/token')),
    ).toEqual([]);
    expect(
      await metric(svc.url, 'tokenwatch_revocations_total', { target: 'jti', status: 'denylist_only' }),
    ).toBe(1);
    const notices = await queryRows<{ target: string; id: string }>(
      ch,
      `SELECT toString(target) AS target, id FROM ${database}.revocation_notices WHERE id = '${accessJti}'`,
    );
    expect(notices).toEqual([{ target: 'jti', id: accessJti }]);
  });

  it('the adapter by itself: a subject logged out, an offline consent deleted, a 401 after a not-before push answered with a fresh token', async () => {
    const c = client();
    const erin = realm.users.find((u) => u.username === 'erin')!;
    const settings = {
      url: proxy.url,
      realm: realm.realm,
      clientId: realm.tokenwatchClientId,
      clientSecret: realm.tokenwatchClientSecret,
      timeoutMs: 5000,
    };
    const request = (target: RevocationRequest['target'], id: string): RevocationRequest => ({
      target,
      id,
      tenant: TENANT,
      subject: erin.id,
      expires_at: new Date(Date.now() + 3600_000).toISOString(),
      access_jtis: [],
      reason: 'test',
      detection_id: unique('det'),
      detector: 'refresh_replay',
      severity: 'high',
    });
    const first = { idempotencyKey: 'k', earlierAttempts: 0 };
    const tokenCalls = () => tokenRequests().length;

    // subject: every session of the user ends
    const sessionAdapter = new KeycloakRevocationAdapter(settings, 'session');
    const a = await passwordLogin(c, 'erin', PASSWORD, VICTIM_IP);
    const b = await passwordLogin(c, 'erin', PASSWORD, ATTACKER_IP);
    expect(await sessionAdapter.revoke(request('subject', erin.id), first)).toMatchObject({
      kind: 'done',
      status: 204,
    });
    for (const t of [a, b]) expect((await refresh(c, t.refresh_token!, VICTIM_IP)).status).toBe(400);

    // family in consent mode: the offline token dies with the consent; the repeat is 404 → done after an attempt
    const consentAdapter = new KeycloakRevocationAdapter(settings, 'consent');
    const offline = await passwordLogin(c, 'erin', PASSWORD, VICTIM_IP, 'openid offline_access');
    const family = `${claims(offline.access_token)['sid']}:${c.clientId}`;
    expect(await consentAdapter.revoke(request('family', family), first)).toMatchObject({
      kind: 'done',
      status: 204,
    });
    expect((await refresh(c, offline.refresh_token!, VICTIM_IP)).status).toBe(400);
    expect(await consentAdapter.revoke(request('family', family), first)).toMatchObject({
      kind: 'not_found',
      status: 404,
    });
    expect(
      await consentAdapter.revoke(request('family', family), { ...first, earlierAttempts: 1 }),
    ).toMatchObject({
      kind: 'done',
      status: 404,
    });

    // a not-before push makes the cached service-account token stale: one 401, a fresh token, done
    const before = tokenCalls();
    const s = await passwordLogin(c, 'erin', PASSWORD, VICTIM_IP);
    await new Promise((r) => setTimeout(r, 1100));
    const admin = await masterAdminToken(kc.url, kc.adminUsername, kc.adminPassword);
    await adminCall(kc.url, admin, 'PUT', `/${realm.realm}`, {
      body: { notBefore: Math.floor(Date.now() / 1000) },
      expect: [204],
    });
    const sid = String(claims(s.access_token)['sid']);
    const out = await sessionAdapter.revoke(request('session', sid), first);
    expect(out.kind === 'done' || out.kind === 'not_found').toBe(true);
    const calls = deletesOf(sid).map((d) => d.upstream);
    expect(calls[0]).toBe(401);
    expect(tokenCalls()).toBe(before + 1);
  });
});
