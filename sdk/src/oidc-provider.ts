/**
 * `@tokenwatch/sdk/oidc-provider`: tokenwatch for an OP built on node-oidc-provider (panva, 9.x).
 * `attachTokenwatch` subscribes to the provider's events and reports issuance, refresh (rotated, or
 * rejected with why — a reused refresh token is `reuse_detected`) and revocation through the SDK's
 * reporter: family = the provider's grant id, subject = accountId, the caller's address and agent.
 * Opaque token ids are the token values themselves, so they are only ever reported hashed
 * (`hashTokenId`). Listeners never throw into the provider and never wait: `report()` only queues.
 * The revocation endpoint for tokenwatch's contract, on the provider's models, is
 * `revocationHandler` (./oidc-provider-revocation.ts).
 */
import { createHash } from 'node:crypto';
import { type AuthEvents, createAuthEvents } from './auth-events.ts';
import type { AccessTokenFields, RefreshReason } from './events.ts';
import { RateLimitedWarning, type SdkLogger, stderrLogger } from './log.ts';
import type { Reporter } from './reporter.ts';

export {
  type RevocationAnswer,
  type RevocationHandler,
  type RevocationHandlerOptions,
  type RevocationHttpRequest,
  revocationHandler,
} from './oidc-provider-revocation.ts';

/** The part of an oidc-provider `Provider` this module uses (an EventEmitter with the models). */
export interface ProviderEvents {
  on(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  readonly issuer?: string;
}

/** What the plugin reads of a token model instance (AccessToken, RefreshToken, …). */
interface TokenLike {
  jti?: string;
  grantId?: string;
  accountId?: string;
  clientId?: string;
  sessionUid?: string;
  exp?: number;
  iat?: number;
  format?: string;
  resourceServer?: { accessTokenFormat?: string; audience?: string };
}

/** What the plugin reads of a Koa context that oidc-provider hands its listeners. */
interface ContextLike {
  ip?: string;
  get?(header: string): string;
  oidc?: {
    route?: string;
    params?: Record<string, unknown>;
    entities?: Record<string, unknown>;
  };
}

export interface AttachOptions {
  reporter: Reporter;
  /** default `default` */
  tenant?: string;
  /** the reporting OP (default `oidc-provider:<issuer>`) */
  source?: string;
  /** the prefix of hashed token ids (default `sha256:`) */
  tokenIdPrefix?: string;
  logger?: SdkLogger;
  /** at most one warning per this interval, ms (default 10,000) */
  warnIntervalMs?: number;
}

export interface Attachment {
  /** Removes the listeners. */
  detach(): void;
  stats(): AttachmentStats;
}

export interface AttachmentStats {
  /** events handed to the reporter, by type */
  reported: { issuance: number; refresh: number; revocation: number };
  /** provider events not reported: a refresh error naming no known token, a grant type without a grant */
  skipped: number;
  /** listener failures (logged, never thrown) */
  errors: number;
}

/** A token value (or an id that is one) as tokenwatch may see it: `<prefix>` + base64url(SHA-256). */
export function hashTokenId(value: string, prefix = 'sha256:'): string {
  return `${prefix}${createHash('sha256').update(value).digest('base64url')}`;
}

/** What oidc-provider's `error_detail` for a refused refresh says, as a contract reason. */
export function refreshErrorReason(detail: string | undefined): RefreshReason {
  switch (detail) {
    case 'refresh token already used':
      return 'reuse_detected';
    case 'refresh token is expired':
      return 'expired';
    case 'grant not found':
      return 'revoked';
    case 'refresh token not found':
    case 'client mismatch':
    case 'failed x5t#S256 verification':
    case 'failed jkt verification':
      return 'invalid';
    default:
      return 'other';
  }
}

const isToken = (value: unknown): value is TokenLike =>
  typeof value === 'object' && value !== null && typeof (value as TokenLike).jti === 'string';

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

export function attachTokenwatch(provider: ProviderEvents, options: AttachOptions): Attachment {
  const prefix = options.tokenIdPrefix ?? 'sha256:';
  const log = options.logger ?? stderrLogger;
  const warning = new RateLimitedWarning(options.warnIntervalMs ?? 10_000);
  const events: AuthEvents = createAuthEvents({
    reporter: options.reporter,
    ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
    source: options.source ?? `oidc-provider:${provider.issuer ?? 'unknown'}`,
  });
  const stats: AttachmentStats = {
    reported: { issuance: 0, refresh: 0, revocation: 0 },
    skipped: 0,
    errors: 0,
  };
  const hash = (value: string) => hashTokenId(value, prefix);

  const caller = (ctx: ContextLike) => {
    const ua = typeof ctx.get === 'function' ? str(ctx.get('user-agent')) : undefined;
    return { ...(str(ctx.ip) ? { ip: ctx.ip } : {}), ...(ua ? { userAgent: ua } : {}) };
  };
  /** a JWT access token's jti is what verifiers see (reported as is); an opaque one is the token */
  const accessToken = (at: unknown): AccessTokenFields | undefined => {
    if (!isToken(at)) return undefined;
    const jwt = at.format === 'jwt' || at.resourceServer?.accessTokenFormat === 'jwt';
    return {
      jti: jwt ? at.jti! : hash(at.jti!),
      ...(typeof at.exp === 'number' ? { exp: at.exp } : {}),
      ...(typeof at.iat === 'number' ? { iat: at.iat } : {}),
      ...(provider.issuer ? { iss: provider.issuer } : {}),
    };
  };
  const grantOf = (t: TokenLike) => ({
    familyId: t.grantId!,
    subject: t.accountId ?? '',
    ...(t.clientId ? { clientId: t.clientId } : {}),
    ...(t.sessionUid ? { sessionId: t.sessionUid } : {}),
  });

  const guard =
    <A extends unknown[]>(name: string, fn: (...args: A) => void) =>
    (...args: A): void => {
      try {
        fn(...args);
      } catch (err) {
        stats.errors++;
        warning.maybe((suppressed) =>
          log.error(
            { event: name, error: (err as Error).message, failuresSinceLastWarning: suppressed },
            'tokenwatch oidc-provider listener failed; the event is not reported',
          ),
        );
      }
    };

  const onSuccess = guard('grant.success', (ctx: ContextLike) => {
    const entities = ctx.oidc?.entities ?? {};
    const grantType = str(ctx.oidc?.params?.['grant_type']);
    const rt = entities['RefreshToken'];
    const rotated = entities['RotatedRefreshToken'];
    const at = accessToken(entities['AccessToken']);
    if (grantType === 'refresh_token' && isToken(rt) && rt.grantId) {
      const presented = isToken(rotated) ? rotated : rt;
      events.reportRefresh({
        ...grantOf(rt),
        ...caller(ctx),
        tokenId: hash(presented.jti!),
        outcome: 'rotated',
        reason: 'ok',
        ...(isToken(rotated) ? { newTokenId: hash(rt.jti!) } : {}),
        ...(at ? { accessToken: at } : {}),
      });
      stats.reported.refresh++;
      return;
    }
    if (isToken(rt) && rt.grantId) {
      events.reportIssuance({
        ...grantOf(rt),
        ...caller(ctx),
        tokenId: hash(rt.jti!),
        ...(grantType ? { grant: grantType } : {}),
        ...(at ? { accessToken: at } : {}),
      });
      stats.reported.issuance++;
      return;
    }
    stats.skipped++;
  });

  const onError = guard('grant.error', (ctx: ContextLike, err: { error_detail?: string } | undefined) => {
    if (str(ctx.oidc?.params?.['grant_type']) !== 'refresh_token') return;
    const rt = ctx.oidc?.entities?.['RefreshToken'];
    // a token the provider could not find names no family: nothing to key it by
    if (!isToken(rt) || !rt.grantId) {
      stats.skipped++;
      return;
    }
    events.reportRefresh({
      ...grantOf(rt),
      ...caller(ctx),
      tokenId: hash(rt.jti!),
      outcome: 'rejected',
      reason: refreshErrorReason(err?.error_detail),
    });
    stats.reported.refresh++;
  });

  const onGrantRevoked = guard('grant.revoked', (ctx: ContextLike, grantId: string) => {
    if (!str(grantId)) return;
    const entities = ctx.oidc?.entities ?? {};
    const token = [entities['RefreshToken'], entities['AccessToken']].find(isToken);
    const client = entities['Client'] as { clientId?: string } | undefined;
    events.reportRevocation({
      familyId: grantId,
      subject: token?.accountId ?? '',
      ...caller(ctx),
      ...(token?.clientId
        ? { clientId: token.clientId }
        : client?.clientId
          ? { clientId: client.clientId }
          : {}),
      reason: `oidc-provider:${ctx.oidc?.route ?? 'unknown'}`,
    });
    stats.reported.revocation++;
  });

  const onSessionDestroyed = guard('session.destroyed', (session: { uid?: string; accountId?: string }) => {
    // an anonymous session (no login yet) revokes nothing
    if (!str(session?.uid) || !str(session.accountId)) return;
    events.reportRevocation({
      sessionId: session.uid!,
      subject: session.accountId ?? '',
      reason: 'session_destroyed',
    });
    stats.reported.revocation++;
  });

  const listeners: [string, (...args: never[]) => void][] = [
    ['grant.success', onSuccess as (...args: never[]) => void],
    ['grant.error', onError as (...args: never[]) => void],
    ['grant.revoked', onGrantRevoked as (...args: never[]) => void],
    ['session.destroyed', onSessionDestroyed as (...args: never[]) => void],
  ];
  for (const [name, fn] of listeners) provider.on(name, fn);
  return {
    detach: () => {
      for (const [name, fn] of listeners) provider.off(name, fn);
    },
    stats: () => ({ ...stats, reported: { ...stats.reported } }),
  };
}
