/**
 * tokenwatch's revocation API contract v1 (contract/revocation-api-v1.ts: POST with a bearer token,
 * an Idempotency-Key, body `{target, id, …}`) served on node-oidc-provider's models, for an OP that
 * has no admin API: a family is a Grant — destroyed, and its access tokens, refresh tokens and
 * authorization codes revoked by grant id; a session is the provider's Session (by uid, the `sid`),
 * its grants revoked and it destroyed; a subject is every grant of the account this handler saw
 * saved (the provider's adapter cannot list grants by account; `grantIdsOfAccount` can); a `jti` is
 * answered `denylist_only` — JWT access tokens are not stored, only verifiers' denylists stop them.
 * Idempotent: a repeated key answers as the first time; a family revoked before answers
 * `already_revoked`. Framework-agnostic (`handle`), with a node:http adapter (`node`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { REVOCATION_TARGETS, type RevocationTarget } from './denylist.ts';
import { ConfigurationError } from './errors.ts';
import { type SdkLogger, stderrLogger } from './log.ts';

interface GrantLike {
  jti?: string;
  accountId?: string;
  destroy(): Promise<unknown>;
}
interface ByGrantId {
  revokeByGrantId(grantId: string): Promise<unknown>;
}
interface SessionLike {
  accountId?: string;
  authorizations?: Record<string, { grantId?: string } | undefined>;
  destroy(): Promise<unknown>;
}

/** The part of an oidc-provider `Provider` the handler uses: its models and its events. */
export interface ProviderModels {
  on(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  Grant: { find(id: string): Promise<GrantLike | undefined> };
  AccessToken: ByGrantId;
  RefreshToken: ByGrantId;
  AuthorizationCode: ByGrantId;
  DeviceCode?: ByGrantId;
  BackchannelAuthenticationRequest?: ByGrantId;
  Session?: { findByUid(uid: string): Promise<SessionLike | undefined> };
}

export interface RevocationHandlerOptions {
  /** the bearer token tokenwatch sends (TOKENWATCH_AUTH_TOKEN), at least 16 characters */
  token: string;
  /** the tenant served; a request naming another is refused (default: any) */
  tenant?: string;
  /** the grant ids of an account, where your adapter can list them (default: those seen saved since start) */
  grantIdsOfAccount?: (accountId: string) => Promise<string[]>;
  /** grants, keys and revocations remembered (default 100,000 each; the oldest forgotten first) */
  maxRemembered?: number;
  logger?: SdkLogger;
}

export interface RevocationHttpRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  /** the parsed JSON body */
  body: unknown;
}

export interface RevocationAnswer {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export interface RevocationHandler {
  handle(request: RevocationHttpRequest): Promise<RevocationAnswer>;
  /** a node:http request listener (reads at most 4 MB of JSON) */
  node(req: IncomingMessage, res: ServerResponse): void;
  /** Removes the handler's listeners from the provider. */
  close(): void;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const MAX_KEY_LENGTH = 200;

/** A Map that forgets its oldest entries past `max`. */
class Bounded<K, V> extends Map<K, V> {
  readonly #max: number;
  constructor(max: number) {
    super();
    this.#max = max;
  }
  override set(key: K, value: V): this {
    super.delete(key);
    super.set(key, value);
    if (this.size > this.#max) super.delete(this.keys().next().value as K);
    return this;
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();
const answer = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body,
});
const refuse = (status: number, error: string, description: string, headers?: Record<string, string>) =>
  answer(status, { error, error_description: description }, headers);

export function revocationHandler(
  provider: ProviderModels,
  options: RevocationHandlerOptions,
): RevocationHandler {
  if (typeof options.token !== 'string' || options.token.length < 16)
    throw new ConfigurationError('revocationHandler: token must be a string of at least 16 characters');
  const expected = digest(options.token);
  const max = options.maxRemembered ?? 100_000;
  const log = options.logger ?? stderrLogger;
  /** grant id → account id, of the grants saved since start */
  const grants = new Bounded<string, string>(max);
  const grantsOfAccount = new Bounded<string, Set<string>>(max);
  const idempotency = new Bounded<string, { print: string; answer: RevocationAnswer }>(max);
  /** `target:id` of what this handler revoked, so that a repeat is `already_revoked`, not 404 */
  const revoked = new Bounded<string, true>(max);

  const onGrantSaved = (grant: { jti?: string; accountId?: string }) => {
    if (typeof grant?.jti !== 'string') return;
    grants.set(grant.jti, grant.accountId ?? '');
    if (typeof grant.accountId === 'string' && grant.accountId !== '') {
      const set = grantsOfAccount.get(grant.accountId) ?? new Set<string>();
      set.add(grant.jti);
      grantsOfAccount.set(grant.accountId, set);
    }
  };
  provider.on('grant.saved', onGrantSaved as (...args: never[]) => void);

  /** Destroys the grant (when still there) and revokes every token of it; whether it was there. */
  const revokeGrant = async (grantId: string): Promise<boolean> => {
    const grant = await provider.Grant.find(grantId);
    await Promise.all(
      [
        provider.AccessToken,
        provider.RefreshToken,
        provider.AuthorizationCode,
        provider.DeviceCode,
        provider.BackchannelAuthenticationRequest,
      ].map((model) => model?.revokeByGrantId(grantId)),
    );
    if (grant !== undefined) await grant.destroy();
    return grant !== undefined;
  };

  const revoke = async (target: RevocationTarget, id: string): Promise<RevocationAnswer> => {
    const done = (revokedNow: boolean, extra: Record<string, unknown> = {}) => {
      revoked.set(`${target}:${id}`, true);
      return answer(200, {
        status: revokedNow ? 'revoked' : 'already_revoked',
        target,
        id,
        revoked_at: new Date().toISOString(),
        ...extra,
      });
    };
    const seenBefore = revoked.has(`${target}:${id}`);
    switch (target) {
      case 'jti':
        return answer(200, {
          status: 'denylist_only',
          target,
          id,
          detail:
            'oidc-provider does not store JWT access tokens: only the verifiers’ denylists stop this one (tokenwatch’s revocation notice)',
        });
      case 'family': {
        const there = await revokeGrant(id);
        if (there || seenBefore || grants.has(id)) return done(there);
        return refuse(404, 'not_found', `no grant ${JSON.stringify(id)} is known here`);
      }
      case 'session': {
        const session = await provider.Session?.findByUid(id);
        if (session === undefined) {
          if (seenBefore) return done(false);
          return refuse(404, 'not_found', `no session ${JSON.stringify(id)} is known here`);
        }
        const ids = Object.values(session.authorizations ?? {})
          .map((a) => a?.grantId)
          .filter((g): g is string => typeof g === 'string');
        for (const g of ids) await revokeGrant(g);
        await session.destroy();
        return done(true, { grants_revoked: ids.length });
      }
      case 'subject': {
        const ids = new Set([
          ...(grantsOfAccount.get(id) ?? []),
          ...((await options.grantIdsOfAccount?.(id)) ?? []),
        ]);
        if (ids.size === 0) {
          if (seenBefore) return done(false);
          return refuse(404, 'not_found', `no grant of account ${JSON.stringify(id)} is known here`);
        }
        let now = 0;
        for (const g of ids) if (await revokeGrant(g)) now++;
        return done(now > 0, { grants_revoked: now });
      }
    }
  };

  const handle = async (request: RevocationHttpRequest): Promise<RevocationAnswer> => {
    if (request.method !== 'POST') return refuse(405, 'invalid_request', 'POST only', { allow: 'POST' });
    const authorization = request.headers['authorization'];
    const token =
      typeof authorization === 'string' && /^bearer /i.test(authorization)
        ? authorization.slice(7).trim()
        : '';
    if (token === '' || !timingSafeEqual(digest(token), expected))
      return refuse(401, 'invalid_token', 'a valid bearer token is required', {
        'www-authenticate': 'Bearer error="invalid_token"',
      });
    const key = request.headers['idempotency-key'];
    if (typeof key !== 'string' || key === '' || key.length > MAX_KEY_LENGTH)
      return refuse(
        400,
        'invalid_request',
        `the Idempotency-Key header is required (1-${MAX_KEY_LENGTH} characters)`,
      );
    const body = request.body as { target?: unknown; id?: unknown; tenant?: unknown } | null;
    if (typeof body !== 'object' || body === null)
      return refuse(400, 'invalid_request', 'the body must be a JSON object');
    const { target, id, tenant } = body;
    if (typeof target !== 'string' || !(REVOCATION_TARGETS as readonly string[]).includes(target))
      return refuse(400, 'invalid_request', `target must be one of ${REVOCATION_TARGETS.join(', ')}`);
    if (typeof id !== 'string' || id === '' || id.length > 256)
      return refuse(400, 'invalid_request', 'id must be a string of 1-256 characters');
    if (
      tenant !== undefined &&
      (typeof tenant !== 'string' || (options.tenant !== undefined && tenant !== options.tenant))
    )
      return refuse(400, 'invalid_request', `tenant ${JSON.stringify(tenant)} is not served here`);
    const print = JSON.stringify([tenant ?? '', target, id]);
    const previous = idempotency.get(key);
    if (previous !== undefined) {
      if (previous.print !== print)
        return refuse(422, 'idempotency_key_reused', 'this Idempotency-Key was used for another revocation');
      return { ...previous.answer, headers: { ...previous.answer.headers, 'idempotent-replayed': 'true' } };
    }
    const result = await revoke(target as RevocationTarget, id);
    if (result.status < 500) idempotency.set(key, { print, answer: result });
    return result;
  };

  const node = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    const send = (a: RevocationAnswer) => {
      res.writeHead(a.status, a.headers).end(JSON.stringify(a.body));
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (tooLarge) return send(refuse(413, 'invalid_request', `the body exceeds ${MAX_BODY_BYTES} bytes`));
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(refuse(400, 'invalid_request', 'the body is not JSON'));
      }
      handle({ method: req.method ?? '', headers: req.headers, body }).then(send, (err: Error) => {
        log.error(
          { error: err.message },
          'tokenwatch revocation on oidc-provider failed; answered 503 (retry)',
        );
        send(
          refuse(503, 'temporarily_unavailable', 'the revocation failed at the provider’s adapter; retry', {
            'retry-after': '1',
          }),
        );
      });
    });
  };

  return {
    handle,
    node,
    close: () => {
      provider.off('grant.saved', onGrantSaved as (...args: never[]) => void);
    },
  };
}
