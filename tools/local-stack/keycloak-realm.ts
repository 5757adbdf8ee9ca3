/**
 * A Keycloak realm set up for tokenwatch through the admin REST API: user events enabled and stored
 * (the types tokenwatch needs, with an expiration) and sent to the listeners given (the tokenwatch
 * listener: "tokenwatch"); refresh-token rotation as an option (Keycloak's default, where an old
 * refresh token stays valid, or its reuse detection: revokeRefreshToken with refreshTokenMaxReuse 0);
 * a public client for users with direct access grants (tests log in with the password grant and
 * refresh); test users; and a confidential service-account client for tokenwatch holding exactly the
 * realm-management roles it needs (KEYCLOAK_ADMIN_ROLES_OF_TOKENWATCH).
 */
import { randomBytes } from 'node:crypto';
import { adminCall } from './keycloak-admin.ts';

/** The user events tokenwatch needs stored (the REST cursor) and the listener maps. */
export const KEYCLOAK_EVENT_TYPES_OF_TOKENWATCH = [
  'LOGIN',
  'LOGIN_ERROR',
  'CODE_TO_TOKEN',
  'CODE_TO_TOKEN_ERROR',
  'REFRESH_TOKEN',
  'REFRESH_TOKEN_ERROR',
  'LOGOUT',
  'LOGOUT_ERROR',
  'REVOKE_GRANT',
  'REVOKE_GRANT_ERROR',
] as const;

/**
 * realm-management roles of tokenwatch's service account: view-events reads events
 * (GET /events); manage-users deletes sessions, logs users out and deletes consents (and, with it,
 * reads users and their sessions). Checked against the real server by test/integration/keycloak.test.ts.
 */
export const KEYCLOAK_ADMIN_ROLES_OF_TOKENWATCH = ['view-events', 'manage-users'] as const;

export interface RealmSetup {
  realm: string;
  /** Keycloak's reuse detection: revokeRefreshToken=true, refreshTokenMaxReuse=0 (default: off) */
  reuseDetection?: boolean;
  /** event listeners of the realm (default: jboss-logging and, when its jar is installed, add 'tokenwatch') */
  eventListeners?: string[];
  /** how long Keycloak keeps stored events, seconds (default 7 days) */
  eventsExpirationSeconds?: number;
  /** the users' client (public, direct access grants), default 'tokenwatch-test-app' */
  userClientId?: string;
  users?: { username: string; password: string }[];
  /** tokenwatch's service-account client, default 'tokenwatch' */
  tokenwatchClientId?: string;
  /** its secret (default: random) */
  tokenwatchClientSecret?: string;
  /** its realm-management roles (default KEYCLOAK_ADMIN_ROLES_OF_TOKENWATCH) */
  tokenwatchRoles?: readonly string[];
  /** more service-account clients (other roles: e.g. to check that a call needs a role) */
  otherServiceAccounts?: ServiceAccount[];
  /** access token lifespan, seconds (Keycloak's default 300) */
  accessTokenLifespan?: number;
  /**
   * Keycloak's sslRequired: 'external' (its default: plain HTTP from loopback and private addresses
   * only), 'none' (tests whose clients appear at public addresses through X-Forwarded-For), 'all'
   */
  sslRequired?: 'external' | 'none' | 'all';
}

export interface ServiceAccount {
  clientId: string;
  /** default: random */
  secret?: string;
  /** realm-management roles */
  roles: readonly string[];
}

export interface SetUpRealm {
  realm: string;
  userClientId: string;
  users: { username: string; password: string; id: string }[];
  tokenwatchClientId: string;
  tokenwatchClientSecret: string;
  tokenwatchRoles: string[];
  /** every service account's secret by client id, tokenwatch's included */
  secrets: Record<string, string>;
}

const newSecret = () => randomBytes(24).toString('base64url');

/** A confidential client with a service account, and its service-account user with `roles`. */
function serviceAccount(a: Required<ServiceAccount>) {
  return {
    client: {
      clientId: a.clientId,
      enabled: true,
      publicClient: false,
      secret: a.secret,
      serviceAccountsEnabled: true,
      standardFlowEnabled: false,
      directAccessGrantsEnabled: false,
    },
    user: {
      username: `service-account-${a.clientId}`,
      enabled: true,
      serviceAccountClientId: a.clientId,
      clientRoles: { 'realm-management': [...a.roles] },
    },
  };
}

/** The service accounts of `s`, tokenwatch's first, each with its secret. */
function serviceAccounts(s: RealmSetup, tokenwatchSecret: string): Required<ServiceAccount>[] {
  return [
    {
      clientId: s.tokenwatchClientId ?? 'tokenwatch',
      secret: tokenwatchSecret,
      roles: s.tokenwatchRoles ?? KEYCLOAK_ADMIN_ROLES_OF_TOKENWATCH,
    },
    ...(s.otherServiceAccounts ?? []).map((a) => ({ ...a, secret: a.secret ?? newSecret() })),
  ];
}

/** The realm's representation for POST /admin/realms. */
export function realmRepresentation(
  s: RealmSetup,
  accounts: Required<ServiceAccount>[],
): Record<string, unknown> {
  const services = accounts.map(serviceAccount);
  return {
    realm: s.realm,
    enabled: true,
    sslRequired: s.sslRequired ?? 'external',
    revokeRefreshToken: s.reuseDetection ?? false,
    refreshTokenMaxReuse: 0,
    ...(s.accessTokenLifespan === undefined ? {} : { accessTokenLifespan: s.accessTokenLifespan }),
    eventsEnabled: true,
    eventsExpiration: s.eventsExpirationSeconds ?? 7 * 24 * 3600,
    enabledEventTypes: [...KEYCLOAK_EVENT_TYPES_OF_TOKENWATCH],
    eventsListeners: s.eventListeners ?? ['jboss-logging'],
    clients: [
      {
        clientId: s.userClientId ?? 'tokenwatch-test-app',
        enabled: true,
        publicClient: true,
        directAccessGrantsEnabled: true,
        standardFlowEnabled: true,
        redirectUris: ['http://127.0.0.1/*'],
      },
      ...services.map((a) => a.client),
    ],
    users: [
      ...(s.users ?? []).map((u) => ({
        username: u.username,
        enabled: true,
        email: `${u.username}@example.test`,
        emailVerified: true,
        firstName: u.username,
        lastName: 'Test',
        credentials: [{ type: 'password', value: u.password, temporary: false }],
        // users imported with the realm get no default roles by themselves (offline_access among them)
        realmRoles: [`default-roles-${s.realm.toLowerCase()}`],
      })),
      ...services.map((a) => a.user),
    ],
  };
}

/** Creates the realm (it must not exist yet) with `adminToken`, a master-realm admin's token. */
export async function setupRealm(url: string, adminToken: string, s: RealmSetup): Promise<SetUpRealm> {
  const accounts = serviceAccounts(s, s.tokenwatchClientSecret ?? newSecret());
  const existing = await adminCall(url, adminToken, 'GET', `/${encodeURIComponent(s.realm)}`);
  if (existing.status === 200)
    throw new Error(
      `Keycloak realm ${s.realm} exists already at ${url}: choose another name, or delete it first ` +
        `(DELETE /admin/realms/${s.realm})`,
    );
  await adminCall(url, adminToken, 'POST', '', { body: realmRepresentation(s, accounts), expect: [201] });
  const realmPath = `/${encodeURIComponent(s.realm)}`;
  const users = [];
  for (const u of s.users ?? []) {
    const found = await adminCall<{ id: string }[]>(
      url,
      adminToken,
      'GET',
      `${realmPath}/users?exact=true&username=${encodeURIComponent(u.username)}`,
      { expect: [200] },
    );
    const id = found.body[0]?.id;
    if (id === undefined)
      throw new Error(`Keycloak realm ${s.realm} was created without its user ${u.username}`);
    users.push({ ...u, id });
  }
  return {
    realm: s.realm,
    userClientId: s.userClientId ?? 'tokenwatch-test-app',
    users,
    tokenwatchClientId: s.tokenwatchClientId ?? 'tokenwatch',
    tokenwatchClientSecret: accounts[0]!.secret,
    tokenwatchRoles: [...accounts[0]!.roles],
    secrets: Object.fromEntries(accounts.map((a) => [a.clientId, a.secret])),
  };
}
