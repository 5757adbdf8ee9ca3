/**
 * Client of the auth server's revocation API (the generic HTTP contract: contract/revocation-api-v1.ts, docs/response.md):
 * one `POST` per attempt with an `Idempotency-Key`, authenticated with a static bearer token or an
 * OAuth 2.0 client-credentials token (cached until shortly before it expires). It classifies each
 * answer as done, not found, failed (do not retry) or retry; the executor owns retries and backoff.
 */
import { retryAfterMs } from '../../platform/backoff.ts';
import { HttpRequestError, post } from '../../platform/http/client.ts';
import type { Credentials } from '../../platform/http/client-credentials.ts';
import type {
  AttemptContext,
  RevocationAdapter,
  RevocationOutcome,
  RevocationRequest,
  TargetCapability,
} from './adapter.ts';

export {
  type ClientCredentialsOptions,
  type Credentials,
  clientCredentials,
  staticToken,
  TokenRequestError,
} from '../../platform/http/client-credentials.ts';
export type { RevocationOutcome, RevocationRequest } from './adapter.ts';

const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

export interface AuthApiOptions {
  url: string;
  credentials: Credentials;
  timeoutMs: number;
}

/** The contract's server revokes every target itself (its access_jtis included). */
const CONTRACT_CAPABILITIES: Record<RevocationRequest['target'], TargetCapability> = {
  jti: { how: 'server', call: 'POST <TOKENWATCH_AUTH_REVOKE_URL> {target: "jti"}' },
  family: { how: 'server', call: 'POST <TOKENWATCH_AUTH_REVOKE_URL> {target: "family", access_jtis}' },
  session: { how: 'server', call: 'POST <TOKENWATCH_AUTH_REVOKE_URL> {target: "session", access_jtis}' },
  subject: { how: 'server', call: 'POST <TOKENWATCH_AUTH_REVOKE_URL> {target: "subject"}' },
};

export class AuthApiClient implements RevocationAdapter {
  readonly name = 'contract';
  readonly capabilities = CONTRACT_CAPABILITIES;
  readonly url: URL;
  private readonly options: AuthApiOptions;

  constructor(options: AuthApiOptions) {
    this.options = options;
    this.url = new URL(options.url);
  }

  get where(): string {
    return `${this.url.origin}${this.url.pathname}`;
  }

  /**
   * One attempt (plus one immediate retry with a fresh token when a renewable token is refused).
   * The contract's server answers a repeated Idempotency-Key as the first time: a 404 stays not_found.
   */
  async revoke(request: RevocationRequest, context: AttemptContext): Promise<RevocationOutcome> {
    const { idempotencyKey } = context;
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
      if (status >= 200 && status < 300 && answeredDenylistOnly(res.body))
        return { kind: 'denylist_only', status, latencyMs, detail };
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

/** A 2xx whose body says the server cannot revoke the target (RevocationAnswer `denylist_only`). */
function answeredDenylistOnly(body: string): boolean {
  // a cheap look before parsing: most answers are not JSON about this at all
  if (!body.includes('denylist_only') || body.length > 64 * 1024) return false;
  try {
    const parsed = JSON.parse(body) as unknown;
    return (
      typeof parsed === 'object' &&
      parsed !== null &&
      (parsed as { status?: unknown }).status === 'denylist_only'
    );
  } catch {
    return false;
  }
}
