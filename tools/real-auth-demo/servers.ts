/**
 * The auth servers tokenwatch revokes through, started for the real-server demo and the replay
 * benchmark (tools/bench/auth-servers.ts), each behind one small interface — sign a user in,
 * refresh from an address, stop — with the tokenwatch settings that revoke through it:
 * - `reference`: examples/auth-server (the revocation API contract; its own reuse detection off);
 * - `keycloak`: Keycloak 26.x from Maven Central with tokenwatch's listener, tokenwatch revoking as
 *   the realm's service account (TOKENWATCH_REVOKE_ADAPTER=keycloak); reuse detection off, its default;
 * - `oidc-provider`: an OP on node-oidc-provider with the SDK's plugin and the revocation endpoint
 *   on its models (examples/oidc-provider/host.ts), rotateRefreshToken on.
 * And the revocation tokenwatch recorded for a subject since a time (what the server acknowledged).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import type { ClickHouseClient } from '@clickhouse/client';
import {
  CLIENT,
  codeFlowLogin,
  type OidcHost,
  REVOKE_PATH,
  refreshCall,
  startOidcHost,
} from '../../examples/oidc-provider/host.ts';
import { DEFAULT_KEYCLOAK_VERSION, startKeycloak, stopKeycloak } from '../local-stack/keycloak.ts';
import { masterAdminToken } from '../local-stack/keycloak-admin.ts';
import { ensureListenerJar } from '../local-stack/keycloak-listener-jar.ts';
import { setupRealm } from '../local-stack/keycloak-realm.ts';
import { claims, type KeycloakClient, passwordLogin, refresh } from '../local-stack/keycloak-user.ts';
import { REPO_ROOT } from '../local-stack/paths.ts';
import { stopChild, waitUntilReady } from '../local-stack/process.ts';

export type ServerKind = 'reference' | 'keycloak' | 'oidc-provider';

/** One answer of the server's token endpoint to a refresh. */
export interface RefreshAnswer {
  status: number;
  refreshToken?: string;
  /** the server's error description ('' on success) */
  error: string;
}

export interface SignedIn {
  refreshToken: string;
  /** the user as the server reports them (Keycloak: the user's id) */
  subject: string;
  family: string;
}

export interface RealServer {
  kind: ServerKind;
  name: string;
  /** what happens at the server on a replay */
  onReplay: string;
  /** signs `user` in from `ip`: the refresh token, and its subject and family as tokenwatch names them (family '' where the client cannot see it) */
  login(user: string, ip: string): Promise<SignedIn>;
  refresh(refreshToken: string, ip: string): Promise<RefreshAnswer>;
  stop(): Promise<void>;
}

export interface ServerStartOptions {
  /** where the server listens (127.0.0.1) */
  port: number;
  /** where tokenwatch listens: the server reports there */
  tokenwatchUrl: string;
  /** an auth-server key of `tenant` in tokenwatch's TOKENWATCH_API_KEYS */
  apiKey: string;
  tenant: string;
  /** the users who may sign in (Keycloak creates them) */
  users: string[];
  /** Keycloak's folder (config, data); kept between runs for a warm start */
  keycloakDir: string;
  say: (msg: string) => void;
  signal?: AbortSignal;
}

export interface StartedServer {
  server: RealServer;
  /** tokenwatch's settings to revoke through it */
  tokenwatchEnv: Record<string, string>;
}

const PASSWORD = 'correct-horse-battery';
const REVOKE_TOKEN = 'real-auth-revoke-0123456789abcdef';

export function startRealServer(kind: ServerKind, o: ServerStartOptions): Promise<StartedServer> {
  switch (kind) {
    case 'reference':
      return startReference(o);
    case 'keycloak':
      return startKeycloakServer(o);
    case 'oidc-provider':
      return startOidcProvider(o);
  }
}

/** An OAuth 2.0 error body's description ('' when the body is no error). */
const errorOf = (body: Record<string, unknown>) => String(body['error_description'] ?? body['error'] ?? '');

/** A token endpoint's answer to a refresh, whichever server gave it. */
const refreshAnswer = (status: number, body: Record<string, unknown>): RefreshAnswer => ({
  status,
  ...(body['refresh_token'] ? { refreshToken: String(body['refresh_token']) } : {}),
  error: errorOf(body),
});

async function startReference(o: ServerStartOptions): Promise<StartedServer> {
  const url = `http://127.0.0.1:${o.port}`;
  o.say(`starting the reference auth server on ${url}`);
  const child: ChildProcess = spawn(process.execPath, [`${REPO_ROOT}examples/auth-server/main.ts`], {
    env: {
      ...process.env,
      AUTH_HOST: '127.0.0.1',
      AUTH_PORT: String(o.port),
      AUTH_TRUST_PROXY: 'true',
      AUTH_ALLOW_ANY_USER: 'true',
      AUTH_TENANT: o.tenant,
      AUTH_TOKENWATCH_URL: o.tokenwatchUrl,
      AUTH_TOKENWATCH_API_KEY: o.apiKey,
      AUTH_REVOCATION_TOKEN: REVOKE_TOKEN,
      AUTH_ADMIN_TOKEN: 'real-auth-admin-0123456789abcdef',
      AUTH_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitUntilReady(url, child, 'the reference auth server', 60_000, '/.well-known/openid-configuration');
  const token = async (form: Record<string, string>, ip: string) => {
    const res = await fetch(`${url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
      body: new URLSearchParams(form).toString(),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const server: RealServer = {
    kind: 'reference',
    name: 'the reference auth server',
    onReplay: 'its own reuse detection is off: the replay succeeds there, only tokenwatch sees the fork',
    async login(user, ip) {
      // any user signs in with their name as the password (AUTH_ALLOW_ANY_USER)
      const r = await token({ grant_type: 'password', username: user, password: user }, ip);
      if (r.status !== 200)
        throw new Error(`the reference auth server refused ${user}'s login: ${r.status} ${errorOf(r.body)}`);
      return { refreshToken: String(r.body['refresh_token']), subject: user, family: '' };
    },
    async refresh(refreshToken, ip) {
      const r = await token({ grant_type: 'refresh_token', refresh_token: refreshToken }, ip);
      return refreshAnswer(r.status, r.body);
    },
    stop: () => stopChild(child),
  };
  return {
    server,
    tokenwatchEnv: {
      TOKENWATCH_AUTH_REVOKE_URL: `${url}/v1/revocations`,
      TOKENWATCH_AUTH_TOKEN: REVOKE_TOKEN,
    },
  };
}

async function startKeycloakServer(o: ServerStartOptions): Promise<StartedServer> {
  o.say('building tokenwatch’s Keycloak listener (cached after the first run)…');
  const jar = await ensureListenerJar();
  mkdirSync(o.keycloakDir, { recursive: true });
  o.say(
    `starting Keycloak ${DEFAULT_KEYCLOAK_VERSION} on 127.0.0.1:${o.port} (the first start downloads and augments it: minutes; later ones ~15 s)…`,
  );
  const kc = await startKeycloak({
    dir: o.keycloakDir,
    httpPort: o.port,
    providers: [jar],
    log: (m) => o.say(`keycloak: ${m}`),
    signal: o.signal,
    options: {
      'proxy-headers': 'xforwarded',
      'spi-events-listener--tokenwatch--url': o.tokenwatchUrl,
      'spi-events-listener--tokenwatch--api-key': o.apiKey,
      'spi-events-listener--tokenwatch--tenant': o.tenant,
      'spi-events-listener--tokenwatch--linger-ms': '50',
    },
  });
  try {
    return await keycloakRealm(o, kc.url, await masterAdminToken(kc.url, kc.adminUsername, kc.adminPassword));
  } catch (err) {
    await stopKeycloak(o.keycloakDir); // a Keycloak this start left running would hold the folder
    throw err;
  }
}

/** A fresh realm with the users and tokenwatch's service account on the running Keycloak at `url`. */
async function keycloakRealm(o: ServerStartOptions, url: string, admin: string): Promise<StartedServer> {
  const realm = await setupRealm(url, admin, {
    realm: `tw-${Date.now().toString(36)}`,
    reuseDetection: false,
    userClientId: 'demo-app',
    eventListeners: ['jboss-logging', 'tokenwatch'],
    sslRequired: 'none', // the users appear at public addresses through X-Forwarded-For
    users: o.users.map((username) => ({ username, password: PASSWORD })),
  });
  o.say(
    `realm ${realm.realm}: ${o.users.length} users; tokenwatch's service account ${realm.tokenwatchClientId} (${realm.tokenwatchRoles.join(', ')})`,
  );
  const c: KeycloakClient = { url, realm: realm.realm, clientId: realm.userClientId };
  const server: RealServer = {
    kind: 'keycloak',
    name: 'Keycloak',
    onReplay:
      'its reuse detection is off (its default): the replay succeeds there, only tokenwatch sees the fork',
    async login(user, ip) {
      const t = await passwordLogin(c, user, PASSWORD, ip);
      const access = claims(t.access_token);
      return {
        refreshToken: t.refresh_token!,
        subject: String(access['sub']),
        family: `${String(access['sid'])}:${c.clientId}`,
      };
    },
    async refresh(refreshToken, ip) {
      const r = await refresh(c, refreshToken, ip);
      return refreshAnswer(r.status, r.body as Record<string, unknown>);
    },
    stop: async () => {
      await stopKeycloak(o.keycloakDir);
    },
  };
  return {
    server,
    tokenwatchEnv: {
      TOKENWATCH_REVOKE_ADAPTER: 'keycloak',
      TOKENWATCH_KEYCLOAK_URL: url,
      TOKENWATCH_KEYCLOAK_REALM: realm.realm,
      TOKENWATCH_KEYCLOAK_CLIENT_ID: realm.tokenwatchClientId,
      TOKENWATCH_KEYCLOAK_CLIENT_SECRET: realm.tokenwatchClientSecret,
    },
  };
}

async function startOidcProvider(o: ServerStartOptions): Promise<StartedServer> {
  const host: OidcHost = await startOidcHost({
    port: o.port,
    tokenwatchUrl: o.tokenwatchUrl,
    apiKey: o.apiKey,
    tenant: o.tenant,
    revokeToken: REVOKE_TOKEN,
  });
  o.say(
    `oidc-provider OP on ${host.url} (client ${CLIENT.id}; tokenwatch's plugin attached; revocations at ${REVOKE_PATH})`,
  );
  const server: RealServer = {
    kind: 'oidc-provider',
    name: 'oidc-provider',
    onReplay:
      'rotateRefreshToken is on: it refuses the replay and revokes the grant itself; tokenwatch still revokes the family, so verifiers deny the thief’s access tokens',
    async login(user, ip) {
      const r = await codeFlowLogin(host.url, user, ip, `browser/${user}`);
      const refreshToken = r.body['refresh_token']!;
      const grantId = (await host.provider.RefreshToken.find(refreshToken))!.grantId as string;
      return { refreshToken, subject: user, family: grantId };
    },
    async refresh(refreshToken, ip) {
      const r = await refreshCall(host.url, refreshToken, ip, 'browser');
      return refreshAnswer(r.status, r.body);
    },
    stop: () => host.close(),
  };
  return {
    server,
    tokenwatchEnv: {
      TOKENWATCH_AUTH_REVOKE_URL: `${host.url}${REVOKE_PATH}`,
      TOKENWATCH_AUTH_TOKEN: REVOKE_TOKEN,
    },
  };
}

/** A revocation tokenwatch recorded as ended, as the server answered it. */
export interface EndedRevocation {
  target_id: string;
  status: string;
  http_status: number;
  detector: string;
  /** when tokenwatch recorded the server's answer, ms */
  at_ms: string;
}

/** The first revocation of `subject`'s family recorded as ended since `sinceMs`, if any. */
export async function revocationSince(
  ch: ClickHouseClient,
  database: string,
  subject: string,
  sinceMs: number,
): Promise<EndedRevocation | undefined> {
  // the demo's own user names, checked anyway: quoted into the SQL (18.16 has no query parameters)
  if (!/^[\w.-]{1,64}$/.test(subject)) throw new Error(`unexpected subject: ${JSON.stringify(subject)}`);
  const rs = await ch.query({
    query: `SELECT target_id, toString(status) AS status, http_status, detector, toString(time_ms) AS at_ms
            FROM ${database}.revocations
            WHERE subject = '${subject}' AND toString(target_kind) = 'family' AND time_ms >= ${Math.floor(sinceMs)}
              AND toString(status) IN ('done', 'not_found', 'failed')
            ORDER BY time_ms LIMIT 1`,
    format: 'JSONEachRow',
  });
  return (await rs.json<EndedRevocation>())[0];
}
