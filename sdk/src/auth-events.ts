/**
 * Emitters for auth servers: one call per issuance (login, grant), refresh presentation and
 * revocation, turned into contract events (ids and claims, never a token) and handed to a
 * reporter. These events feed refresh-replay detection: report every refresh, the rejected ones too.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ConfigurationError } from './errors.ts';
import {
  type AccessTokenFields,
  accessTokenFields,
  type CallerContext,
  callerFields,
  type EventType,
  REFRESH_REASONS,
  type RefreshReason,
  TENANT_PATTERN,
  type TokenEvent,
  text,
} from './events.ts';
import type { Reporter } from './reporter.ts';

/**
 * What every auth-server event says: whose grant, and who asked. A `deviceId` is the auth server's
 * own knowledge (reported with source `auth_server`, strong) unless `deviceIdSource` says otherwise
 * (e.g. `cookie` when the server only read the client's cookie).
 */
export interface GrantContext extends CallerContext {
  subject: string;
  /** overrides the emitter's tenant for this event */
  tenant?: string;
  clientId?: string;
  sessionId?: string;
  /** the refresh-token family (grant) id */
  familyId?: string;
}

export interface IssuanceReport extends GrantContext {
  familyId: string;
  /** id of the first refresh token of the family */
  tokenId: string;
  /** the access token issued with it: its claims and header fields */
  accessToken?: AccessTokenFields;
  /** how it was granted, e.g. `password`, `authorization_code` (free-form) */
  grant?: string;
}

export interface RefreshReport extends GrantContext {
  familyId: string;
  /** id of the refresh token presented */
  tokenId: string;
  outcome: 'rotated' | 'rejected';
  /** `ok` when rotated; why it was rejected otherwise */
  reason: RefreshReason;
  /** id of the refresh token issued by this rotation */
  newTokenId?: string;
  /** the access token issued by this rotation */
  accessToken?: AccessTokenFields;
}

export interface RevocationReport extends GrantContext {
  /** what was revoked: an access token, a refresh token, the family (familyId) or the session (sessionId) */
  jti?: string;
  tokenId?: string;
  /** why (free-form, e.g. `user_logout`, `reuse_detected`, `tokenwatch`) */
  reason?: string;
}

export interface AuthEvents {
  reportIssuance(report: IssuanceReport): void;
  reportRefresh(report: RefreshReport): void;
  reportRevocation(report: RevocationReport): void;
}

export interface AuthEventsOptions {
  reporter: Reporter;
  /** default `default` */
  tenant?: string;
  /** the reporting auth server/instance (default the host name) */
  source?: string;
  /** the clock (epoch ms) of the events' `time` (default Date.now; a simulation runs its own) */
  now?: () => number;
}

export function createAuthEvents(options: AuthEventsOptions): AuthEvents {
  const tenant = options.tenant ?? 'default';
  if (!TENANT_PATTERN.test(tenant))
    throw new ConfigurationError(
      `createAuthEvents: tenant must match ${TENANT_PATTERN}; got ${JSON.stringify(tenant)}`,
    );
  const source = text(options.source ?? hostname(), 128);
  const { reporter } = options;
  const now = options.now ?? Date.now;

  const event = (type: EventType, g: GrantContext, access: AccessTokenFields | undefined): TokenEvent => ({
    event_id: randomUUID(),
    type,
    time: now(),
    tenant: g.tenant !== undefined && TENANT_PATTERN.test(g.tenant) ? g.tenant : tenant,
    source,
    subject: text(g.subject),
    client_id: text(g.clientId),
    session_id: text(g.sessionId),
    family_id: text(g.familyId),
    ...callerFields({ ...g, deviceIdSource: g.deviceIdSource ?? 'auth_server' }),
    ...(access === undefined
      ? {}
      : {
          ...accessTokenFields(access as Record<string, unknown>, access as Record<string, unknown>),
          access_jti: text(access.jti),
        }),
  });

  return {
    reportIssuance(r) {
      reporter.report({
        ...event('issuance', r, r.accessToken),
        token_id: text(r.tokenId),
        outcome: 'ok',
        reason: text(r.grant, 64),
      });
    },
    reportRefresh(r) {
      const reason = REFRESH_REASONS.includes(r.reason) ? r.reason : 'other';
      reporter.report({
        ...event('refresh', r, r.accessToken),
        token_id: text(r.tokenId),
        new_token_id: text(r.newTokenId),
        outcome: r.outcome === 'rotated' ? 'rotated' : 'rejected',
        reason,
      });
    },
    reportRevocation(r) {
      reporter.report({
        ...event('revocation', r, undefined),
        jti: text(r.jti),
        token_id: text(r.tokenId),
        outcome: 'ok',
        reason: text(r.reason),
      });
    },
  };
}
