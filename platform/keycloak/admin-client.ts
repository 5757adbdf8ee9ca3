/**
 * A client of one Keycloak realm's admin REST API (`<url>/admin/realms/<realm>…`), acting as a
 * service account: its token from the realm's token endpoint by client credentials, cached, and
 * fetched again once when Keycloak answers 401 (a not-before push, a rotated secret, a restart with
 * new keys). One call answers status, body and latency; it throws only when there was no answer
 * (HttpRequestError) or no token (TokenRequestError) — the callers classify.
 */
import { type HttpMethod, type HttpResponse, send } from '../http/client.ts';
import { type Credentials, clientCredentials } from '../http/client-credentials.ts';
import type { KeycloakSettings } from './settings.ts';

export class KeycloakAdminClient {
  readonly base: string;
  readonly realm: string;
  readonly #credentials: Credentials;
  readonly #timeoutMs: number;

  constructor(s: Pick<KeycloakSettings, 'url' | 'realm' | 'clientId' | 'clientSecret' | 'timeoutMs'>) {
    const url = s.url.replace(/\/+$/, '');
    const realm = encodeURIComponent(s.realm);
    this.base = `${url}/admin/realms/${realm}`;
    this.realm = s.realm;
    this.#timeoutMs = s.timeoutMs;
    this.#credentials = clientCredentials({
      tokenUrl: `${url}/realms/${realm}/protocol/openid-connect/token`,
      clientId: s.clientId,
      clientSecret: s.clientSecret,
      scope: '',
      timeoutMs: s.timeoutMs,
      settingsHint:
        'TOKENWATCH_KEYCLOAK_CLIENT_ID and TOKENWATCH_KEYCLOAK_CLIENT_SECRET (a confidential client of the realm with "Service accounts roles" on)',
    });
  }

  /** `method` `path` (below the realm's admin base, starting with '/'); once more with a fresh token after a 401. */
  async call(method: HttpMethod, path: string, body?: unknown): Promise<HttpResponse> {
    const first = await this.#attempt(method, path, body);
    if (first.status !== 401) return first;
    this.#credentials.invalidate();
    return this.#attempt(method, path, body);
  }

  async #attempt(method: HttpMethod, path: string, body: unknown): Promise<HttpResponse> {
    const authorization = await this.#credentials.authorization();
    return send(method, new URL(`${this.base}${path}`), body === undefined ? '' : JSON.stringify(body), {
      timeoutMs: this.#timeoutMs,
      maxResponseBytes: 8 * 1024 * 1024,
      headers: {
        authorization,
        accept: 'application/json',
        'user-agent': 'tokenwatch',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
    });
  }
}
