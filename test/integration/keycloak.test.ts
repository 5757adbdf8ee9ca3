/**
 * A real Keycloak (26.x from Maven Central, start-dev on loopback, its own home and data in a temp
 * folder) with tokenwatch's event listener in providers/, reporting to a real tokenwatch
 * (single-process mode) on a real ClickHouse. Users log in, refresh and replay refresh tokens from
 * two addresses (X-Forwarded-For, which this Keycloak takes); the events must reach tokenwatch's
 * `events` table with the contract's fields, with Keycloak's reuse detection on and off. The admin
 * calls tokenwatch's Keycloak adapter will need are run against the same server, with the minimal
 * roles and without them. Set TOKENWATCH_KEYCLOAK_SAMPLES=<file> to have Keycloak's own events and
 * what the listener sent written there.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRow as Row } from '../../ingest/pipeline/rows.ts';
import { type RunningKeycloak, startKeycloak, stopKeycloak } from '../../tools/local-stack/keycloak.ts';
import {
  adminCall,
  masterAdminToken,
  requestToken,
  serviceAccountToken,
} from '../../tools/local-stack/keycloak-admin.ts';
import { ensureListenerJar } from '../../tools/local-stack/keycloak-listener-jar.ts';
import {
  KEYCLOAK_ADMIN_ROLES_OF_TOKENWATCH,
  type SetUpRealm,
  setupRealm,
} from '../../tools/local-stack/keycloak-realm.ts';
import {
  browserLogin,
  claims,
  jti,
  type KeycloakClient,
  logout,
  passwordLogin,
  refresh,
  revoke,
} from '../../tools/local-stack/keycloak-user.ts';
import { freePort } from '../../tools/local-stack/process.ts';
import {
  API_KEY,
  clickhouse,
  queryRows,
  type RunningService,
  serviceSetup,
  startService,
  TENANT,
  unique,
  waitUntil,
} from '../support/harness.ts';

/** The victim at home in Berlin, the attacker in São Paulo (geoip-lite places both). */
const VICTIM_IP = '85.214.132.117';
const ATTACKER_IP = '200.147.67.142';
const PASSWORD = 'correct-horse-battery';

/** The columns the test reads (UInt64 columns would come back as strings: none is read). */
type EventRow = Pick<
  Row,
  | 'event_id'
  | 'type'
  | 'tenant'
  | 'source'
  | 'subject'
  | 'client_id'
  | 'session_id'
  | 'ip'
  | 'user_agent'
  | 'outcome'
  | 'reason'
  | 'family_id'
  | 'token_id'
  | 'new_token_id'
  | 'access_jti'
  | 'jti'
  | 'country'
  | 'extra'
>;

interface DetectionRow {
  detector: string;
  kind: string;
  severity: string;
  action: string;
  dry_run: number;
  family_id: string;
  target_kind: string;
  target_id: string;
}

interface KeycloakEvent {
  id: string;
  time: number;
  type: string;
  clientId?: string;
  userId?: string;
  sessionId?: string;
  ipAddress?: string;
  error?: string;
  details?: Record<string, string>;
}

const ch = clickhouse();
const samples: Record<string, unknown> = {};

describe('Keycloak: events through the listener, and the admin calls tokenwatch needs', () => {
  let dir: string;
  let database: string;
  let svc: RunningService;
  let kc: RunningKeycloak;
  let reuse: SetUpRealm;
  let plain: SetUpRealm;
  /** a fresh master-realm admin token (they live 60 s) */
  const admin = () => masterAdminToken(kc.url, kc.adminUsername, kc.adminPassword);
  const client = (r: SetUpRealm): KeycloakClient => ({
    url: kc.url,
    realm: r.realm,
    clientId: r.userClientId,
  });
  const user = (r: SetUpRealm, name: string) => {
    const u = r.users.find((x) => x.username === name);
    if (u === undefined) throw new Error(`no user ${name} in realm ${r.realm}`);
    return u;
  };

  const rowsOf = (realm: string) =>
    queryRows<EventRow>(
      ch,
      `SELECT event_id, toString(type) AS type, tenant, source, subject, client_id, session_id, ip,
         user_agent, outcome, reason, family_id, token_id, new_token_id, access_jti, jti, country, extra
       FROM ${database}.events FINAL
       WHERE tenant = '${TENANT}' AND source = 'keycloak:${realm}' ORDER BY time_ms, event_id`,
    );
  const waitForRows = (realm: string, what: string, done: (rows: EventRow[]) => boolean) =>
    waitUntil(
      `${what} in tokenwatch's events table`,
      async () => {
        const rows = await rowsOf(realm);
        return done(rows) && rows;
      },
      30_000,
    );
  const detectionsOf = (family: string) =>
    queryRows<DetectionRow>(
      ch,
      `SELECT toString(detector) AS detector, kind, toString(severity) AS severity, toString(action) AS action,
         dry_run, family_id, target_kind, target_id
       FROM ${database}.detections WHERE family_id = '${family}'`,
    );
  /** Keycloak's own stored events of `realm` (service account, view-events), oldest first. */
  const keycloakEvents = async (r: SetUpRealm, query = '') => {
    const token = await serviceAccountToken(kc.url, r.realm, r.tokenwatchClientId, r.tokenwatchClientSecret);
    const res = await adminCall<KeycloakEvent[]>(
      kc.url,
      token,
      'GET',
      `/${r.realm}/events?direction=asc&max=1000${query}`,
      { expect: [200] },
    );
    return res.body;
  };

  beforeAll(async () => {
    dir = mkdtempSync(`${tmpdir()}/tokenwatch-keycloak-`);
    const setup = serviceSetup({ kafka: false });
    database = setup.database;
    svc = await startService(setup.env);
    const jar = await ensureListenerJar();
    kc = await startKeycloak({
      dir: `${dir}/keycloak`,
      httpPort: await freePort(),
      providers: [jar],
      options: {
        'proxy-headers': 'xforwarded',
        'spi-events-listener--tokenwatch--url': svc.url,
        'spi-events-listener--tokenwatch--api-key': API_KEY,
        'spi-events-listener--tokenwatch--tenant': TENANT,
        'spi-events-listener--tokenwatch--linger-ms': '50',
      },
    });
    const users = ['alice', 'bob', 'carol', 'dave'].map((username) => ({ username, password: PASSWORD }));
    // the users appear at public addresses (X-Forwarded-For): plain HTTP must be allowed from them
    const common = { eventListeners: ['jboss-logging', 'tokenwatch'], users, sslRequired: 'none' as const };
    const token = await admin();
    reuse = await setupRealm(kc.url, token, {
      ...common,
      realm: unique('kc_reuse'),
      reuseDetection: true,
      otherServiceAccounts: [
        { clientId: 'tw-no-roles', roles: [] },
        { clientId: 'tw-view-events', roles: ['view-events'] },
        { clientId: 'tw-manage-users', roles: ['manage-users'] },
      ],
    });
    plain = await setupRealm(kc.url, token, { ...common, realm: unique('kc_plain'), reuseDetection: false });
  }, 900_000);

  afterAll(async () => {
    // Keycloak first: its listener flushes what it holds to tokenwatch as it stops
    if (dir !== undefined) await stopKeycloak(`${dir}/keycloak`);
    await svc?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await ch.close();
    const file = process.env['TOKENWATCH_KEYCLOAK_SAMPLES'];
    if (file) writeFileSync(file, `${JSON.stringify(samples, null, 2)}\n`);
  }, 60_000);

  it('reuse detection on: login, rotation and the replay reach tokenwatch; Keycloak reports reuse_detected and drops the family', async () => {
    const c = client(reuse);
    const alice = user(reuse, 'alice');
    const t1 = await passwordLogin(c, 'alice', PASSWORD, VICTIM_IP);
    const rotated = await refresh(c, t1.refresh_token!, VICTIM_IP);
    expect(rotated.status).toBe(200);
    const t2 = rotated.body as { access_token: string; refresh_token: string };
    const replay = await refresh(c, t1.refresh_token!, ATTACKER_IP);
    expect(replay).toEqual({
      status: 400,
      body: { error: 'invalid_grant', error_description: 'Maximum allowed refresh token reuse exceeded' },
    });
    // a refresh token Keycloak cannot read: its REFRESH_TOKEN_ERROR names no token, session or
    // subject, so the listener does not send it (tokenwatch would dead-letter a refresh without them)
    const garbage = await refresh(c, 'not-a-refresh-token', ATTACKER_IP);
    expect(garbage).toEqual({
      status: 400,
      body: { error: 'invalid_grant', error_description: 'Invalid refresh token' },
    });
    // Keycloak removed the client session: the victim's own newer token is refused too
    const victimNext = await refresh(c, t2.refresh_token, VICTIM_IP);
    expect(victimNext).toEqual({
      status: 400,
      body: { error: 'invalid_grant', error_description: "Session doesn't have required client" },
    });

    const sid = String(claims(t1.access_token)['sid']);
    const family = `${sid}:${c.clientId}`;
    const rows = await waitForRows(reuse.realm, 'the four events of the family', (r) => r.length >= 4);
    const base = {
      tenant: TENANT,
      source: `keycloak:${reuse.realm}`,
      subject: alice.id,
      client_id: c.clientId,
      session_id: sid,
      family_id: family,
      user_agent: '',
    };
    expect(rows).toMatchObject([
      {
        ...base,
        type: 'issuance',
        outcome: 'ok',
        reason: 'login',
        ip: VICTIM_IP,
        token_id: jti(t1.refresh_token!),
        access_jti: jti(t1.access_token),
        new_token_id: '',
      },
      {
        ...base,
        type: 'refresh',
        outcome: 'rotated',
        reason: 'ok',
        ip: VICTIM_IP,
        token_id: jti(t1.refresh_token!),
        new_token_id: jti(t2.refresh_token),
        access_jti: jti(t2.access_token),
      },
      {
        ...base,
        type: 'refresh',
        outcome: 'rejected',
        reason: 'reuse_detected',
        ip: ATTACKER_IP,
        token_id: jti(t1.refresh_token!),
        new_token_id: '',
        access_jti: '',
      },
      { ...base, type: 'refresh', outcome: 'rejected', reason: 'revoked', token_id: jti(t2.refresh_token) },
    ]);
    expect(rows[0]!.country).toBe('DE');
    expect(JSON.parse(rows[2]!.extra)).toMatchObject({
      keycloak_type: 'REFRESH_TOKEN_ERROR',
      keycloak_error: 'invalid_token',
      keycloak_reason: 'Maximum allowed refresh token reuse exceeded',
    });
    // the listener's event ids are Keycloak's
    const stored = await keycloakEvents(reuse, `&user=${alice.id}`);
    expect(rows.map((r) => r.event_id)).toEqual(expect.arrayContaining(stored.map((e) => e.id)));
    const errors = await keycloakEvents(reuse, '&type=REFRESH_TOKEN_ERROR');
    expect(rows.map((r) => r.event_id)).toEqual(
      expect.arrayContaining(errors.filter((e) => e.sessionId === sid).map((e) => e.id)),
    );
    samples['reuse: Keycloak events'] = [
      ...stored,
      ...errors.filter((e) => e.sessionId === sid || e.details?.['reason'] === 'Invalid refresh token'),
    ];
    samples['reuse: tokenwatch rows'] = rows;

    const findings = await waitUntil(
      'a refresh_replay finding on the family',
      async () => {
        const d = await detectionsOf(family);
        return d.some((x) => x.detector === 'refresh_replay') && d;
      },
      30_000,
    );
    samples['reuse: detections'] = findings;
  });

  it("reuse detection off (Keycloak's default): the replay succeeds, and tokenwatch sees one refresh token rotated twice", async () => {
    const c = client(plain);
    const dave = user(plain, 'dave');
    const t1 = await passwordLogin(c, 'dave', PASSWORD, VICTIM_IP);
    const first = await refresh(c, t1.refresh_token!, VICTIM_IP);
    const replay = await refresh(c, t1.refresh_token!, ATTACKER_IP);
    expect([first.status, replay.status]).toEqual([200, 200]);
    const t2 = first.body as { refresh_token: string };
    const t3 = replay.body as { refresh_token: string };
    const family = `${claims(t1.access_token)['sid']}:${c.clientId}`;
    const rows = await waitForRows(
      plain.realm,
      "dave's login and two rotations",
      (r) => r.filter((x) => x.subject === dave.id).length >= 3,
    );
    const rotations = rows.filter((r) => r.subject === dave.id && r.type === 'refresh');
    expect(rotations).toMatchObject([
      {
        outcome: 'rotated',
        token_id: jti(t1.refresh_token!),
        new_token_id: jti(t2.refresh_token),
        ip: VICTIM_IP,
      },
      {
        outcome: 'rotated',
        token_id: jti(t1.refresh_token!),
        new_token_id: jti(t3.refresh_token),
        ip: ATTACKER_IP,
      },
    ]);
    expect(new Set(rotations.map((r) => r.family_id))).toEqual(new Set([family]));
    samples['plain: tokenwatch rows'] = rotations;
    // tokenwatch's own detector sees the second rotation of one token from another network
    samples['plain: detections'] = await waitUntil(
      'a refresh_replay finding on the family',
      async () => {
        const d = await detectionsOf(family);
        return d.some((x) => x.detector === 'refresh_replay') && d;
      },
      30_000,
    );
  });

  it('a browser login (LOGIN, CODE_TO_TOKEN) and a logout (LOGOUT) reach tokenwatch as issuance and revocation', async () => {
    const c = client(plain);
    const carol = user(plain, 'carol');
    const tokens = await browserLogin(c, 'carol', PASSWORD, VICTIM_IP);
    const sid = String(claims(tokens.access_token)['sid']);
    const out = await logout(c, tokens.refresh_token!, VICTIM_IP);
    expect(out.status).toBe(204);
    const after = await refresh(c, tokens.refresh_token!, VICTIM_IP);
    expect(after).toEqual({
      status: 400,
      body: { error: 'invalid_grant', error_description: 'Session not active' },
    });
    const rows = await waitForRows(
      plain.realm,
      "carol's four events",
      (r) => r.filter((x) => x.session_id === sid).length >= 4,
    );
    const mine = rows.filter((r) => r.session_id === sid);
    const base = { subject: carol.id, session_id: sid, ip: VICTIM_IP };
    expect(mine).toMatchObject([
      {
        ...base,
        type: 'issuance',
        reason: 'login',
        token_id: '',
        access_jti: '',
        family_id: `${sid}:${c.clientId}`,
      },
      {
        ...base,
        type: 'issuance',
        reason: 'code_to_token',
        token_id: jti(tokens.refresh_token!),
        access_jti: jti(tokens.access_token),
        family_id: `${sid}:${c.clientId}`,
      },
      { ...base, type: 'revocation', reason: 'logout', outcome: 'ok' },
      {
        ...base,
        type: 'refresh',
        outcome: 'rejected',
        reason: 'revoked',
        token_id: jti(tokens.refresh_token!),
      },
    ]);
    samples['browser: Keycloak events'] = (await keycloakEvents(plain)).filter((e) => e.sessionId === sid);
    samples['browser: tokenwatch rows'] = mine;
  });

  it('RFC 7009 revocation (REVOKE_GRANT): an access token is revoked alone, a refresh token with its family', async () => {
    const c = client(plain);
    const dave = user(plain, 'dave');
    const t = await passwordLogin(c, 'dave', PASSWORD, VICTIM_IP);
    const sid = String(claims(t.access_token)['sid']);
    expect((await revoke(c, t.access_token, 'access_token', VICTIM_IP)).status).toBe(200);
    // the access token's revocation leaves the family alone: the refresh still works
    const still = await refresh(c, t.refresh_token!, VICTIM_IP);
    expect(still.status).toBe(200);
    const rt = (still.body as { refresh_token: string }).refresh_token;
    expect((await revoke(c, rt, 'refresh_token', VICTIM_IP)).status).toBe(200);
    const after = await refresh(c, rt, VICTIM_IP);
    expect(after.status).toBe(400);
    samples['revoke: refresh after the refresh token was revoked'] = after;
    const rows = await waitForRows(plain.realm, "dave's revocations", (r) =>
      r.some((x) => x.session_id === sid && x.type === 'refresh' && x.outcome === 'rejected'),
    );
    const mine = rows.filter(
      (r) => r.session_id === sid || (r.subject === dave.id && r.type === 'revocation' && r.jti !== ''),
    );
    expect(mine).toMatchObject([
      { type: 'issuance', token_id: jti(t.refresh_token!), access_jti: jti(t.access_token) },
      { type: 'revocation', reason: 'revoke_grant', jti: jti(t.access_token), family_id: '', session_id: '' },
      { type: 'refresh', outcome: 'rotated', token_id: jti(t.refresh_token!), new_token_id: jti(rt) },
      { type: 'revocation', reason: 'revoke_grant', family_id: `${sid}:${c.clientId}`, token_id: jti(rt) },
      { type: 'refresh', outcome: 'rejected', token_id: jti(rt) },
    ]);
    samples['revoke: Keycloak events'] = (await keycloakEvents(plain, '&type=REVOKE_GRANT')).filter(
      (e) => e.userId === dave.id,
    );
    samples['revoke: tokenwatch rows'] = mine;
  });

  it('the admin calls tokenwatch needs: events by a time cursor, session delete, user logout, consent delete', async () => {
    const c = client(reuse);
    const bob = user(reuse, 'bob');
    const began = Date.now();
    const sa = await requestToken(kc.url, reuse.realm, {
      grant_type: 'client_credentials',
      client_id: reuse.tokenwatchClientId,
      client_secret: reuse.tokenwatchClientSecret,
    });
    expect(sa.refresh_token).toBeUndefined();
    expect(claims(sa.access_token)['azp']).toBe(reuse.tokenwatchClientId);
    const call = (method: 'GET' | 'POST' | 'DELETE', path: string, token = sa.access_token) =>
      adminCall(kc.url, token, method, `/${reuse.realm}${path}`);

    // a session deleted: the user's next refresh is refused; a second delete is 404
    const s1 = await passwordLogin(c, 'bob', PASSWORD, VICTIM_IP);
    const sid1 = String(claims(s1.access_token)['sid']);
    const sessions = await call('GET', `/users/${bob.id}/sessions`);
    expect(sessions.status).toBe(200);
    expect(sessions.body).toMatchObject([{ id: sid1, userId: bob.id, clients: expect.any(Object) }]);
    samples['admin: GET /users/{id}/sessions'] = sessions.body;
    expect((await call('DELETE', `/sessions/${sid1}`)).status).toBe(204);
    expect(await refresh(c, s1.refresh_token!, VICTIM_IP)).toEqual({
      status: 400,
      body: { error: 'invalid_grant', error_description: 'Session not active' },
    });
    const again = await call('DELETE', `/sessions/${sid1}`);
    expect(again.status).toBe(404);
    samples['admin: second DELETE /sessions/{sid}'] = again.body;

    // a user logged out: every session of theirs ends, and their not-before moves to now
    const s2 = await passwordLogin(c, 'bob', PASSWORD, VICTIM_IP);
    const s3 = await passwordLogin(c, 'bob', PASSWORD, ATTACKER_IP);
    const loggedOut = await call('POST', `/users/${bob.id}/logout`);
    expect(loggedOut.status).toBe(204);
    const refusals = await Promise.all([s2, s3].map((s) => refresh(c, s.refresh_token!, VICTIM_IP)));
    expect(refusals.map((r) => r.status)).toEqual([400, 400]);
    samples['admin: refreshes after POST /users/{id}/logout'] = refusals;
    const bobNow = await call('GET', `/users/${bob.id}`);
    expect(bobNow.status).toBe(200);
    samples['admin: notBefore after logout'] = (bobNow.body as { notBefore?: number }).notBefore;
    expect((bobNow.body as { notBefore?: number }).notBefore).toBeGreaterThanOrEqual(
      Math.floor(began / 1000),
    );

    // an offline token revoked by deleting the user's consent (grant) for the client
    const offline = await passwordLogin(c, 'bob', PASSWORD, VICTIM_IP, 'openid offline_access');
    expect(claims(offline.refresh_token!)['typ']).toBe('Offline');
    const consents = await call('GET', `/users/${bob.id}/consents`);
    expect(consents.status).toBe(200);
    samples['admin: GET /users/{id}/consents'] = consents.body;
    expect((await call('DELETE', `/users/${bob.id}/consents/${c.clientId}`)).status).toBe(204);
    const offlineAfter = await refresh(c, offline.refresh_token!, VICTIM_IP);
    expect(offlineAfter.status).toBe(400);
    samples['admin: offline refresh after DELETE consents'] = offlineAfter;
    const consentAgain = await call('DELETE', `/users/${bob.id}/consents/${c.clientId}`);
    samples['admin: second DELETE consents'] = { status: consentAgain.status, body: consentAgain.body };
    expect(consentAgain.status).toBe(404);

    // events by a time cursor: dateFrom (epoch ms, inclusive), oldest first, paged by first/max
    const page = await call(
      'GET',
      `/events?dateFrom=${began}&direction=asc&max=100&type=REFRESH_TOKEN&type=REFRESH_TOKEN_ERROR&type=LOGIN`,
    );
    expect(page.status).toBe(200);
    const events = page.body as KeycloakEvent[];
    expect(events.length).toBeGreaterThanOrEqual(8);
    expect(events.every((e) => e.time >= began)).toBe(true);
    expect(events.map((e) => e.time)).toEqual([...events.map((e) => e.time)].sort((a, b) => a - b));
    const last = events.at(-1)!;
    const next = (await call('GET', `/events?dateFrom=${last.time}&direction=asc&max=100`))
      .body as KeycloakEvent[];
    expect(next.map((e) => e.id)).toContain(last.id);
    samples['admin: GET /events?dateFrom'] = events;

    // the roles: view-events reads events, manage-users does the rest; each call fails without its role
    const tokenOf = (clientId: string) =>
      serviceAccountToken(kc.url, reuse.realm, clientId, reuse.secrets[clientId]!);
    const [none, viewEvents, manageUsers] = await Promise.all(
      ['tw-no-roles', 'tw-view-events', 'tw-manage-users'].map(tokenOf),
    );
    const statuses = async (token: string) => ({
      events: (await call('GET', `/events?max=1`, token)).status,
      deleteSession: (await call('DELETE', `/sessions/${unique('no-such-session')}`, token)).status,
      logout: (await call('POST', `/users/${bob.id}/logout`, token)).status,
      deleteConsent: (await call('DELETE', `/users/${bob.id}/consents/${c.clientId}`, token)).status,
      userSessions: (await call('GET', `/users/${bob.id}/sessions`, token)).status,
    });
    const byRole = {
      none: await statuses(none!),
      'view-events': await statuses(viewEvents!),
      'manage-users': await statuses(manageUsers!),
      [KEYCLOAK_ADMIN_ROLES_OF_TOKENWATCH.join('+')]: await statuses(sa.access_token),
    };
    samples['admin: statuses by role'] = byRole;
    // deleting a session and logging a user out through the admin API are admin events, not user events
    samples['admin: every event of bob'] = await keycloakEvents(reuse, `&user=${bob.id}`);
    expect(byRole).toEqual({
      none: { events: 403, deleteSession: 403, logout: 403, deleteConsent: 403, userSessions: 403 },
      'view-events': { events: 200, deleteSession: 403, logout: 403, deleteConsent: 403, userSessions: 403 },
      'manage-users': { events: 403, deleteSession: 404, logout: 204, deleteConsent: 404, userSessions: 200 },
      'view-events+manage-users': {
        events: 200,
        deleteSession: 404,
        logout: 204,
        deleteConsent: 404,
        userSessions: 200,
      },
    });
  });

  it('nothing the listener sent was dead-lettered: every event it mapped is valid contract v1', async () => {
    const letters = await queryRows<{ code: string; message: string; payload: string }>(
      ch,
      `SELECT code, message, payload FROM ${database}.dead_letters`,
    );
    expect(letters).toEqual([]);
  });
});
