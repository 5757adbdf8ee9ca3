/**
 * Credentials for calls to an auth server: a static bearer token, or an OAuth 2.0 client-credentials
 * token (RFC 6749 §4.4, client authenticated with HTTP Basic) cached until shortly before it expires
 * and fetched again when the server refuses it (`invalidate`). Used by the revocation contract's
 * client and by the Keycloak admin client.
 */
import { post } from './client.ts';

export interface Credentials {
  /** the `Authorization` header value */
  authorization(): Promise<string>;
  /** the server refused the last one: fetch a new one next time (client credentials) */
  invalidate(): void;
  readonly renewable: boolean;
}

export function staticToken(token: string): Credentials {
  return { authorization: async () => `Bearer ${token}`, invalidate: () => undefined, renewable: false };
}

export interface ClientCredentialsOptions {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scope: string;
  timeoutMs: number;
  /** the settings to check when the token endpoint refuses (default: the revocation contract's client settings) */
  settingsHint?: string;
}

export class TokenRequestError extends Error {
  readonly code = 'ERR_TOKENWATCH_AUTH_TOKEN';
}

/** OAuth 2.0 client credentials (RFC 6749 §4.4), client authenticated with HTTP Basic. */
export function clientCredentials(o: ClientCredentialsOptions): Credentials {
  let cached: { value: string; untilMs: number } | undefined;
  let inFlight: Promise<string> | undefined;
  const fetchToken = async (): Promise<string> => {
    const basic = Buffer.from(`${encodeURIComponent(o.clientId)}:${encodeURIComponent(o.clientSecret)}`);
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (o.scope !== '') form.set('scope', o.scope);
    let res: Awaited<ReturnType<typeof post>>;
    try {
      res = await post(new URL(o.tokenUrl), form.toString(), {
        timeoutMs: o.timeoutMs,
        headers: {
          authorization: `Basic ${basic.toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
      });
    } catch (err) {
      throw new TokenRequestError(`token endpoint ${o.tokenUrl} unreachable: ${(err as Error).message}`);
    }
    const body = safeJson(res.body);
    const token = body?.['access_token'];
    if (res.status !== 200 || typeof token !== 'string') {
      throw new TokenRequestError(
        `token endpoint ${o.tokenUrl} answered ${res.status} ${res.body.slice(0, 200)}; ` +
          `check ${o.settingsHint ?? 'TOKENWATCH_AUTH_CLIENT_ID, TOKENWATCH_AUTH_CLIENT_SECRET and TOKENWATCH_AUTH_SCOPE'}`,
      );
    }
    const expiresIn = Number(body?.['expires_in'] ?? 300);
    // renewed 30 s (or a tenth of its life) before it expires
    const marginS = Math.min(30, expiresIn / 10);
    cached = { value: token, untilMs: Date.now() + (expiresIn - marginS) * 1000 };
    return token;
  };
  return {
    renewable: true,
    async authorization() {
      if (cached !== undefined && Date.now() < cached.untilMs) return `Bearer ${cached.value}`;
      inFlight ??= fetchToken().finally(() => {
        inFlight = undefined;
      });
      return `Bearer ${await inFlight}`;
    },
    invalidate() {
      cached = undefined;
    },
  };
}

function safeJson(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
