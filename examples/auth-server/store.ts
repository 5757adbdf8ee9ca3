/**
 * In-memory state: refresh-token families (one per login) and their rotating refresh tokens, the
 * access tokens issued and not yet expired, the access-token denylist, and the idempotency records
 * of the revocation API. Revocation of a family, session or subject is applied here.
 *
 * A refresh token is `rt_<token id>.<secret>`; only a SHA-256 of the secret is kept.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AccessClaims } from './tokens.ts';

export interface Family {
  id: string;
  subject: string;
  sessionId: string;
  clientId?: string;
  scope: string;
  /** the client's DPoP key (JWK SHA-256 thumbprint) every access token of the family is bound to (`cnf.jkt`) */
  dpopJkt?: string;
  createdAtMs: number;
  /** absolute end of the family's life (login + refresh TTL) */
  expiresAtMs: number;
  revokedAtMs?: number;
}

export interface RefreshTokenRecord {
  tokenId: string;
  familyId: string;
  secretHash: Buffer;
  /** presented once already (a newer token of the family exists) */
  rotated: boolean;
}

interface AccessRecord {
  jti: string;
  subject: string;
  sessionId?: string;
  clientId?: string;
  familyId?: string;
  expMs: number;
}

/** unknown: no such token (or garbled); wrong_secret: a known token id with the wrong secret */
export type RefreshLookup =
  | { status: 'unknown' }
  | { status: 'wrong_secret' | 'ok'; family: Family; token: RefreshTokenRecord };

import type { RevocationTarget } from '../../contract/revocation-api-v1.ts';

export { REVOCATION_TARGETS, type RevocationTarget } from '../../contract/revocation-api-v1.ts';

export interface RevocationRequest {
  target: RevocationTarget;
  id: string;
  /** jti: when the denylist entry may be dropped (default: the jti's exp if issued here, else now + access TTL) */
  expiresAtMs?: number;
  /** further access tokens to deny (family/session/subject), with their expiry: only those issued here for the target are */
  accessJtis?: { jti: string; expMs: number }[];
}

export interface RevocationOutcome {
  /** false: everything was revoked before */
  revokedNow: boolean;
  accessJtisDenied: number;
  /** `access_jtis` of the request this server did not issue for the target: ignored */
  accessJtisIgnored: number;
  subject?: string;
  sessionId?: string;
  clientId?: string;
}

export interface IdempotencyRecord {
  fingerprint: string;
  statusCode: number;
  body: unknown;
  atMs: number;
}

const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
/** expired families are kept this long so that presenting their tokens reports `expired` */
const EXPIRED_FAMILY_KEEP_MS = 24 * 3600_000;
const REFRESH_TOKEN = /^rt_([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;

const randomId = (prefix: string): string => `${prefix}_${randomBytes(12).toString('base64url')}`;
const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

export class AuthStore {
  private readonly accessTtlMs: number;
  private readonly refreshTtlMs: number;
  private readonly families = new Map<string, Family>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  private readonly access = new Map<string, AccessRecord>();
  /** denied access-token jti → when the entry may be dropped (epoch ms) */
  private readonly denied = new Map<string, number>();
  readonly idempotency = new Map<string, IdempotencyRecord>();

  /** epoch ms: Date.now, or a simulation's clock */
  readonly clock: () => number;

  constructor(accessTtlSeconds: number, refreshTtlSeconds: number, clock: () => number = Date.now) {
    this.clock = clock;
    this.accessTtlMs = accessTtlSeconds * 1000;
    this.refreshTtlMs = refreshTtlSeconds * 1000;
  }

  /** A new family (and session) for a login. */
  createFamily(subject: string, scope: string, clientId: string | undefined, dpopJkt?: string): Family {
    const now = this.clock();
    const family: Family = {
      id: randomId('fam'),
      subject,
      sessionId: randomId('sid'),
      ...(clientId === undefined ? {} : { clientId }),
      ...(dpopJkt === undefined ? {} : { dpopJkt }),
      scope,
      createdAtMs: now,
      expiresAtMs: now + this.refreshTtlMs,
    };
    this.families.set(family.id, family);
    return family;
  }

  /** A new refresh token of `family`: the raw token (for the client only) and its id. */
  issueRefreshToken(family: Family): { token: string; tokenId: string } {
    const tokenId = randomBytes(12).toString('base64url');
    const secret = randomBytes(32).toString('base64url');
    this.refreshTokens.set(tokenId, {
      tokenId,
      familyId: family.id,
      secretHash: sha256(secret),
      rotated: false,
    });
    return { token: `rt_${tokenId}.${secret}`, tokenId };
  }

  findRefreshToken(raw: string): RefreshLookup {
    const [, tokenId = '', secret = ''] = REFRESH_TOKEN.exec(raw) ?? [];
    const token = this.refreshTokens.get(tokenId);
    const family = token === undefined ? undefined : this.families.get(token.familyId);
    if (token === undefined || family === undefined) return { status: 'unknown' };
    return {
      status: timingSafeEqual(token.secretHash, sha256(secret)) ? 'ok' : 'wrong_secret',
      family,
      token,
    };
  }

  recordAccessToken(claims: AccessClaims, familyId?: string): void {
    this.access.set(claims.jti, {
      jti: claims.jti,
      subject: claims.sub,
      ...(claims.sid === undefined ? {} : { sessionId: claims.sid }),
      ...(claims.client_id === undefined ? {} : { clientId: claims.client_id }),
      ...(familyId === undefined ? {} : { familyId }),
      expMs: claims.exp * 1000,
    });
  }

  /** Whether an access token (or refresh token) id is on the denylist. */
  isDenied(jti: string): boolean {
    return (this.denied.get(jti) ?? 0) > this.clock();
  }

  /** Denies an id until `untilMs`; true when it was not denied before. */
  private deny(jti: string, untilMs: number): boolean {
    const wasDenied = this.isDenied(jti);
    this.denied.set(jti, Math.max(this.denied.get(jti) ?? 0, untilMs));
    return !wasDenied;
  }

  /** Applies a revocation; undefined when the family, session or subject was never seen. */
  revoke(request: RevocationRequest): RevocationOutcome | undefined {
    const { target, id } = request;
    if (target === 'jti') {
      const known = this.access.get(id);
      const revokedNow = this.deny(
        id,
        known?.expMs ?? request.expiresAtMs ?? this.clock() + this.accessTtlMs,
      );
      return { revokedNow, accessJtisDenied: revokedNow ? 1 : 0, accessJtisIgnored: 0, ...describe(known) };
    }
    const matches = (subject: string, sessionId?: string, familyId?: string) =>
      id === (target === 'subject' ? subject : target === 'session' ? sessionId : familyId);
    const families = [...this.families.values()].filter((f) => matches(f.subject, f.sessionId, f.id));
    const accessTokens = [...this.access.values()].filter((a) => matches(a.subject, a.sessionId, a.familyId));
    const first = families[0] ?? accessTokens[0];
    if (first === undefined) return undefined;

    const now = this.clock();
    let familiesRevoked = 0;
    for (const family of families) {
      if (family.revokedAtMs !== undefined) continue;
      family.revokedAtMs = now;
      familiesRevoked++;
    }
    // Only access tokens this server issued for the target: a list naming other users' tokens (a
    // caller tricked into linking them) cannot deny them.
    const asked = request.accessJtis ?? [];
    const issued = asked.filter(({ jti }) => {
      const a = this.access.get(jti);
      return a !== undefined && matches(a.subject, a.sessionId, a.familyId);
    });
    let accessJtisDenied = 0;
    for (const { jti, expMs } of [...accessTokens, ...issued]) {
      if (this.deny(jti, expMs)) accessJtisDenied++;
    }
    return {
      revokedNow: familiesRevoked + accessJtisDenied > 0,
      accessJtisDenied,
      accessJtisIgnored: asked.length - issued.length,
      ...describe(first),
    };
  }

  /** Drops what can no longer matter: expired denylist entries, access records, families, idempotency records. */
  prune(now = this.clock()): void {
    for (const [jti, untilMs] of this.denied) if (untilMs <= now) this.denied.delete(jti);
    for (const [jti, record] of this.access) if (record.expMs <= now) this.access.delete(jti);
    for (const [key, record] of this.idempotency) {
      if (record.atMs + IDEMPOTENCY_TTL_MS <= now) this.idempotency.delete(key);
    }
    for (const [id, family] of this.families) {
      if (family.expiresAtMs + EXPIRED_FAMILY_KEEP_MS <= now) this.families.delete(id);
    }
    for (const [tokenId, token] of this.refreshTokens) {
      if (!this.families.has(token.familyId)) this.refreshTokens.delete(tokenId);
    }
  }
}

/** The subject, session and client a revocation concerned, for its event. */
function describe(
  owner: { subject: string; sessionId?: string; clientId?: string } | undefined,
): Pick<RevocationOutcome, 'subject' | 'sessionId' | 'clientId'> {
  if (owner === undefined) return {};
  return {
    subject: owner.subject,
    ...(owner.sessionId === undefined ? {} : { sessionId: owner.sessionId }),
    ...(owner.clientId === undefined ? {} : { clientId: owner.clientId }),
  };
}
