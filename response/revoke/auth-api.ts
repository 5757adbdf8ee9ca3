/**
 * Client of the auth server's revocation API (the generic HTTP contract: contract/revocation-api-v1.ts, docs/response.md):
 * one `POST` per attempt with an `Idempotency-Key`, authenticated with a static bearer token or an
 * OAuth 2.0 client-credentials token (cached until shortly before it expires). It classifies each
 * answer as done, not found, failed (do not retry) or retry; the executor owns retries and backoff.
 */
import type { RevocationRequest as ContractRequest } from '../../contract/revocation-api-v1.ts';
import { retryAfterMs } from '../../platform/backoff.ts';
import { HttpRequestError, post } from '../../platform/http/client.ts';

/** The body of `POST <revocation URL>` (contract/revocation-api-v1.ts), every field sent. */
export type RevocationRequest = Required<Omit<ContractRequest, 'access_jtis'>> & {
  access_jtis: NonNullable<ContractRequest['access_jtis']>;
};

export type RevocationOutcome =
  /** 2xx or 409: revoked now or before */
  | { kind: 'done'; status: number; latencyMs: number; detail: string }
  /** 404: the auth server does not know the target (nothing to revoke) */
  | { kind: 'not_found'; status: number; latencyMs: number; detail: string }
  /** any other 4xx: retrying would give the same answer */
  | { kind: 'failed'; status: number; latencyMs: number; detail: string }
  /** 408, 425, 429, 5xx, timeout, network error, no token: try again later */
  | { kind: 'retry'; status: number; latencyMs: number; detail: string; retryAfterMs?: number };

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
          'check TOKENWATCH_AUTH_CLIENT_ID, TOKENWATCH_AUTH_CLIENT_SECRET and TOKENWATCH_AUTH_SCOPE',
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

const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

export interface AuthApiOptions {
  url: string;
  credentials: Credentials;
  timeoutMs: number;
}

export class AuthApiClient {
  readonly url: URL;
  private readonly options: AuthApiOptions;

  constructor(options: AuthApiOptions) {
    this.options = options;
    this.url = new URL(options.url);
  }

  /** One attempt (plus one immediate retry with a fresh token when a renewable token is refused). */
  async revoke(request: RevocationRequest, idempotencyKey: string): Promise<RevocationOutcome> {
    const first = await this.#attempt(request, idempotencyKey);
    if (first.kind === 'failed' && first.status === 401 && this.options.credentials.renewable) {
      this.options.credentials.invalidate();
      return this.#attempt(request, idempotencyKey);
    }
    return first;
  }

  async #attempt(request: RevocationRequest, idempotencyKey: string): Promise<RevocationOutcome> {
    let authorization: string;
    try {
      authorization = await this.options.credentials.authorization();
    } catch (err) {
      return { kind: 'retry', status: 0, latencyMs: 0, detail: (err as Error).message };
    }
    try {
      const res = await post(this.url, JSON.stringify(request), {
        timeoutMs: this.options.timeoutMs,
        headers: {
          authorization,
          'content-type': 'application/json',
          accept: 'application/json',
          'idempotency-key': idempotencyKey,
          'user-agent': 'tokenwatch',
        },
      });
      const detail = res.body.slice(0, 500);
      const { status, latencyMs } = res;
      if ((status >= 200 && status < 300) || status === 409)
        return { kind: 'done', status, latencyMs, detail };
      if (status === 404) return { kind: 'not_found', status, latencyMs, detail };
      if (RETRY_STATUSES.has(status)) {
        const after = retryAfterMs(headerText(res.headers['retry-after']), Date.now());
        return {
          kind: 'retry',
          status,
          latencyMs,
          detail,
          ...(after !== undefined ? { retryAfterMs: after } : {}),
        };
      }
      return { kind: 'failed', status, latencyMs, detail };
    } catch (err) {
      const latencyMs = err instanceof HttpRequestError ? err.latencyMs : 0;
      return { kind: 'retry', status: 0, latencyMs, detail: (err as Error).message };
    }
  }
}

const headerText = (h: string | string[] | undefined) => (Array.isArray(h) ? h[0] : h);
