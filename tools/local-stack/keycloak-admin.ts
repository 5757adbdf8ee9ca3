/**
 * Keycloak's admin REST API, as the local stack and the tests use it: tokens (the bootstrap admin by
 * the password grant on master's admin-cli; a service account by client credentials), and one call
 * helper that answers status and parsed body and, when asked to, fails with what was sent and what
 * Keycloak said.
 */

export interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  expires_in: number;
  refresh_expires_in?: number;
  token_type: string;
  session_state?: string;
  scope?: string;
}

/**
 * POSTs a form to `<url>/realms/<realm>/protocol/openid-connect/<endpoint>` (with more `headers`,
 * e.g. X-Forwarded-For where Keycloak takes proxy headers); status and body.
 */
export async function oidcPost(
  url: string,
  realm: string,
  endpoint: 'token' | 'logout' | 'revoke',
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/realms/${encodeURIComponent(realm)}/protocol/openid-connect/${endpoint}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    body = { text };
  }
  return { status: res.status, body };
}

/** A token from the token endpoint, or an error that says who asked and what Keycloak answered. */
export async function requestToken(
  url: string,
  realm: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<TokenResponse> {
  const { status, body } = await oidcPost(url, realm, 'token', form, headers);
  if (status === 200 && typeof body['access_token'] === 'string') return body as unknown as TokenResponse;
  throw new Error(
    `Keycloak at ${url} refused a ${form['grant_type']} token for client ${form['client_id']} of realm ${realm}` +
      `${form['username'] === undefined ? '' : ` (user ${form['username']})`}: ${status} ${JSON.stringify(body)}`,
  );
}

/** The bootstrap admin's access token (master realm, admin-cli). */
export const masterAdminToken = async (url: string, username: string, password: string) =>
  (
    await requestToken(url, 'master', {
      grant_type: 'password',
      client_id: 'admin-cli',
      username,
      password,
    })
  ).access_token;

/** A service account's access token (client credentials). */
export const serviceAccountToken = async (url: string, realm: string, clientId: string, secret: string) =>
  (
    await requestToken(url, realm, {
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: secret,
    })
  ).access_token;

export interface AdminAnswer<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * Calls `<url>/admin/realms<path>` with `token`. With `expect`, any other status throws an error
 * naming the call, the status and Keycloak's answer.
 */
export async function adminCall<T = unknown>(
  url: string,
  token: string,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  opts: { body?: unknown; expect?: number[] } = {},
): Promise<AdminAnswer<T>> {
  const res = await fetch(`${url}/admin/realms${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    /* not JSON: kept as text */
  }
  if (opts.expect !== undefined && !opts.expect.includes(res.status))
    throw new Error(
      `Keycloak admin call ${method} /admin/realms${path} answered ${res.status} (expected ${opts.expect.join(' or ')}): ` +
        `${typeof body === 'string' ? body.slice(0, 500) : JSON.stringify(body)?.slice(0, 500)}`,
    );
  return { status: res.status, body: body as T, headers: res.headers };
}
