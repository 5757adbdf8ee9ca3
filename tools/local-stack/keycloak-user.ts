/**
 * A user's side of a real Keycloak (for the integration tests, the demo and the bench): log in with the password grant or the
 * browser's authorization-code flow (the login form posted like a browser would, cookies kept),
 * refresh, log out, revoke, each from a client address (X-Forwarded-For, which the test's Keycloak takes);
 * and the claims of the tokens it got (their ids are what the events name).
 */
import { oidcPost, requestToken, type TokenResponse } from './keycloak-admin.ts';

export interface KeycloakClient {
  url: string;
  realm: string;
  clientId: string;
}

const from = (ip: string) => ({ 'x-forwarded-for': ip });

/** The claims of a JWT (not verified: the test got it from Keycloak itself). */
export function claims(jwt: string): Record<string, unknown> {
  const payload = jwt.split('.')[1];
  if (payload === undefined) throw new Error(`not a JWT: ${jwt.slice(0, 20)}…`);
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

export const jti = (jwt: string) => String(claims(jwt)['jti']);

export const passwordLogin = (
  c: KeycloakClient,
  username: string,
  password: string,
  ip: string,
  scope = 'openid',
) =>
  requestToken(
    c.url,
    c.realm,
    { grant_type: 'password', client_id: c.clientId, username, password, scope },
    from(ip),
  );

/** A refresh: Keycloak's status and body (a refused one is an answer too). */
export const refresh = (c: KeycloakClient, refreshToken: string, ip: string) =>
  oidcPost(
    c.url,
    c.realm,
    'token',
    { grant_type: 'refresh_token', client_id: c.clientId, refresh_token: refreshToken },
    from(ip),
  );

/** RP-initiated logout with the refresh token (Keycloak's LOGOUT event). */
export const logout = (c: KeycloakClient, refreshToken: string, ip: string) =>
  oidcPost(c.url, c.realm, 'logout', { client_id: c.clientId, refresh_token: refreshToken }, from(ip));

/** RFC 7009 revocation by the token's own client: a refresh token ends its client session, an access token only itself. */
export const revoke = (
  c: KeycloakClient,
  token: string,
  hint: 'access_token' | 'refresh_token',
  ip: string,
) => oidcPost(c.url, c.realm, 'revoke', { client_id: c.clientId, token, token_type_hint: hint }, from(ip));

/** Cookies a browser would keep from a response: name=value of each Set-Cookie. */
const cookiesOf = (res: Response) => res.headers.getSetCookie().map((c) => c.split(';')[0]!);

const REDIRECT = 'http://127.0.0.1/callback';

/** The authorization-code flow as a browser runs it: login form, credentials, code, token. */
export async function browserLogin(
  c: KeycloakClient,
  username: string,
  password: string,
  ip: string,
): Promise<TokenResponse> {
  const auth = new URL(`${c.url}/realms/${c.realm}/protocol/openid-connect/auth`);
  auth.search = new URLSearchParams({
    client_id: c.clientId,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid',
  }).toString();
  const page = await fetch(auth, { headers: from(ip) });
  const html = await page.text();
  const action = /<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (page.status !== 200 || action === undefined)
    throw new Error(
      `Keycloak's login page (${page.status}) has no kc-form-login form: ${html.slice(0, 300)}`,
    );
  const posted = await fetch(action.replaceAll('&amp;', '&'), {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      cookie: cookiesOf(page).join('; '),
      ...from(ip),
    },
    body: new URLSearchParams({ username, password, credentialId: '' }).toString(),
  });
  const location = posted.headers.get('location') ?? '';
  const code = location.startsWith(REDIRECT) ? new URL(location).searchParams.get('code') : null;
  if (code === null)
    throw new Error(
      `Keycloak did not redirect the login of ${username} with a code (${posted.status}, location ${location}): ` +
        (await posted.text()).slice(0, 300),
    );
  return requestToken(
    c.url,
    c.realm,
    { grant_type: 'authorization_code', client_id: c.clientId, code, redirect_uri: REDIRECT },
    from(ip),
  );
}
