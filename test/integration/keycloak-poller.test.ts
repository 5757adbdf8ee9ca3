/**
 * The Keycloak event poller against a real Keycloak (26.x) whose realm has no tokenwatch listener:
 * users log in, rotate, replay and log out; the poller reads the realm's stored events through the
 * admin API (service account with view-events), in pages smaller than one poll's events, and
 * reports them to a real tokenwatch (single-process mode, ClickHouse). The events must be stored
 * with the fields of the mapping table (as the listener maps them), and a poller restarted — a
 * new one, then the `tokenwatch keycloak-poll --once` command — on the same cursor file must
 * report the new events only: none lost, none doubled.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeycloakEventPoller, type PollSettings } from '../../ingest/sources/keycloak/poller.ts';
import type { KeycloakSettings } from '../../platform/keycloak/settings.ts';
import { type RunningKeycloak, startKeycloak, stopKeycloak } from '../../tools/local-stack/keycloak.ts';
import { adminCall, masterAdminToken, serviceAccountToken } from '../../tools/local-stack/keycloak-admin.ts';
import { ensureListenerJar } from '../../tools/local-stack/keycloak-listener-jar.ts';
import { type SetUpRealm, setupRealm } from '../../tools/local-stack/keycloak-realm.ts';
import {
  claims,
  jti,
  type KeycloakClient,
  logout,
  passwordLogin,
  refresh,
} from '../../tools/local-stack/keycloak-user.ts';
import { freePort } from '../../tools/local-stack/process.ts';
import {
  API_KEY,
  clickhouse,
  queryRows,
  type RunningService,
  scalar,
  serviceSetup,
  spawnScript,
  startService,
  TENANT,
  unique,
  waitUntil,
} from '../support/harness.ts';

const VICTIM_IP = '85.214.132.117';
const ATTACKER_IP = '200.147.67.142';
const PASSWORD = 'correct-horse-battery';

interface Row {
  event_id: string;
  type: string;
  subject: string;
  session_id: string;
  client_id: string;
  ip: string;
  outcome: string;
  reason: string;
  family_id: string;
  token_id: string;
  new_token_id: string;
  access_jti: string;
  user_agent: string;
}

const ch = clickhouse();

describe('Keycloak event poller: the realm’s stored events, restart-safe', () => {
  let dir: string;
  let database: string;
  let svc: RunningService;
  let kc: RunningKeycloak;
  let realm: SetUpRealm;
  let keycloak: KeycloakSettings;
  let poll: PollSettings;
  const log = pino({ level: 'warn' });
  const client = (): KeycloakClient => ({ url: kc.url, realm: realm.realm, clientId: realm.userClientId });
  const rows = () =>
    queryRows<Row>(
      ch,
      `SELECT event_id, toString(type) AS type, subject, session_id, client_id, ip, outcome, reason, family_id,
         token_id, new_token_id, access_jti, user_agent
       FROM ${database}.events WHERE tenant = '${TENANT}' AND source = 'keycloak:${realm.realm}' ORDER BY time_ms, event_id`,
    );
  const stored = (n: number) =>
    waitUntil(
      `${n} polled events in tokenwatch's events table`,
      async () => {
        const r = await rows();
        return r.length >= n && r;
      },
      30_000,
    );
  const keycloakEventIds = async () => {
    const token = await serviceAccountToken(
      kc.url,
      realm.realm,
      realm.tokenwatchClientId,
      realm.tokenwatchClientSecret,
    );
    const res = await adminCall<{ id: string; type: string; ipAddress?: string }[]>(
      kc.url,
      token,
      'GET',
      `/${realm.realm}/events?max=1000`,
      {
        expect: [200],
      },
    );
    return res.body;
  };

  beforeAll(async () => {
    dir = mkdtempSync(`${tmpdir()}/tokenwatch-keycloak-poll-`);
    const setup = serviceSetup({ kafka: false });
    database = setup.database;
    svc = await startService(setup.env);
    kc = await startKeycloak({
      dir: `${dir}/keycloak`,
      httpPort: await freePort(),
      providers: [await ensureListenerJar()],
      // the users' addresses come in X-Forwarded-For
      options: { 'proxy-headers': 'xforwarded' },
    });
    const token = await masterAdminToken(kc.url, kc.adminUsername, kc.adminPassword);
    realm = await setupRealm(kc.url, token, {
      realm: unique('kc_poll'),
      // no tokenwatch listener: the poller is the only way in
      eventListeners: ['jboss-logging'],
      users: ['frank', 'grace'].map((username) => ({ username, password: PASSWORD })),
      sslRequired: 'none',
    });
    keycloak = {
      url: kc.url,
      realm: realm.realm,
      clientId: realm.tokenwatchClientId,
      clientSecret: realm.tokenwatchClientSecret,
      timeoutMs: 5000,
    };
    poll = {
      reportUrl: svc.url,
      apiKey: API_KEY,
      tenant: TENANT,
      stateFile: `${dir}/cursor.json`,
      intervalMs: 200,
      // smaller than a poll's events: every poll reads several pages
      pageSize: 2,
      overlapMs: 60_000,
      backfillSeconds: 3600,
      realmRevokesRefreshTokens: false,
    };
  }, 900_000);

  afterAll(async () => {
    if (dir !== undefined) await stopKeycloak(`${dir}/keycloak`);
    await svc?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await ch.close();
  }, 60_000);

  it('stores the events with the fields of the mapping; restarted pollers add only the new ones', async () => {
    const c = client();
    const frank = realm.users.find((u) => u.username === 'frank')!;
    const grace = realm.users.find((u) => u.username === 'grace')!;
    const t1 = await passwordLogin(c, 'frank', PASSWORD, VICTIM_IP);
    const r2 = await refresh(c, t1.refresh_token!, VICTIM_IP);
    const r3 = await refresh(c, t1.refresh_token!, ATTACKER_IP); // the replay (reuse detection off: it succeeds)
    expect([r2.status, r3.status]).toEqual([200, 200]);
    const t2 = r2.body as { access_token: string; refresh_token: string };
    const t3 = r3.body as { access_token: string; refresh_token: string };
    const g = await passwordLogin(c, 'grace', PASSWORD, VICTIM_IP);
    expect((await logout(c, g.refresh_token!, VICTIM_IP)).status).toBe(204);

    const first = await new KeycloakEventPoller(keycloak, poll, log).pollOnce();
    expect(first.reported).toBe(5);
    const sid = String(claims(t1.access_token)['sid']);
    const gsid = String(claims(g.access_token)['sid']);
    const fam = `${sid}:${c.clientId}`;
    const base = {
      subject: frank.id,
      session_id: sid,
      client_id: c.clientId,
      family_id: fam,
      user_agent: '',
    };
    const got = await stored(5);
    expect(got).toMatchObject([
      {
        ...base,
        type: 'issuance',
        reason: 'login',
        ip: VICTIM_IP,
        token_id: jti(t1.refresh_token!),
        access_jti: jti(t1.access_token),
      },
      {
        ...base,
        type: 'refresh',
        outcome: 'rotated',
        ip: VICTIM_IP,
        token_id: jti(t1.refresh_token!),
        new_token_id: jti(t2.refresh_token),
        access_jti: jti(t2.access_token),
      },
      {
        ...base,
        type: 'refresh',
        outcome: 'rotated',
        ip: ATTACKER_IP,
        token_id: jti(t1.refresh_token!),
        new_token_id: jti(t3.refresh_token),
        access_jti: jti(t3.access_token),
      },
      { type: 'issuance', subject: grace.id, session_id: gsid },
      { type: 'revocation', reason: 'logout', subject: grace.id, session_id: gsid, family_id: '' },
    ]);
    // the poller's event ids are Keycloak's
    expect(got.map((r) => r.event_id).sort()).toEqual((await keycloakEventIds()).map((e) => e.id).sort());

    // restarted: a new poller on the same cursor file reports only what happened since
    const r4 = await refresh(c, t2.refresh_token, VICTIM_IP);
    expect(r4.status).toBe(200);
    const again = await new KeycloakEventPoller(keycloak, poll, log).pollOnce();
    expect(again).toMatchObject({ reported: 1 });
    expect(again.fetched).toBeGreaterThanOrEqual(6); // the overlap read everything again, in pages of 2
    await stored(6);

    // and the command, on the same cursor: one login more, nothing else
    await passwordLogin(c, 'grace', PASSWORD, ATTACKER_IP);
    const cli = spawnScript('service/cli.ts', ['keycloak-poll', '--once'], {
      TOKENWATCH_KEYCLOAK_URL: kc.url,
      TOKENWATCH_KEYCLOAK_REALM: realm.realm,
      TOKENWATCH_KEYCLOAK_CLIENT_ID: realm.tokenwatchClientId,
      TOKENWATCH_KEYCLOAK_CLIENT_SECRET: realm.tokenwatchClientSecret,
      TOKENWATCH_KEYCLOAK_POLL_REPORT_URL: svc.url,
      TOKENWATCH_KEYCLOAK_POLL_API_KEY: API_KEY,
      TOKENWATCH_KEYCLOAK_POLL_TENANT: TENANT,
      TOKENWATCH_KEYCLOAK_POLL_STATE_FILE: poll.stateFile,
      TOKENWATCH_KEYCLOAK_POLL_PAGE_SIZE: '3',
    });
    expect(await cli.exited, cli.output()).toBe(0);
    expect(cli.output()).toContain('"reported":1');
    await stored(7);
    expect((await new KeycloakEventPoller(keycloak, poll, log).pollOnce()).reported).toBe(0);

    // none lost (every stored Keycloak event is there), none doubled (one row per event id, no FINAL)
    const ids = (await keycloakEventIds()).map((e) => e.id).sort();
    expect(ids).toHaveLength(7);
    expect((await rows()).map((r) => r.event_id).sort()).toEqual(ids);
    const where = `FROM ${database}.events WHERE source = 'keycloak:${realm.realm}'`;
    expect(await scalar(ch, `SELECT count() ${where}`)).toBe(7);
    expect(JSON.parse(readFileSync(poll.stateFile, 'utf8'))).toMatchObject({ version: 1 });
  });
});
