/**
 * The local denylist: revocation notices from tokenwatch (followed on Kafka or polled over HTTP)
 * kept until they expire, so `verify` refuses a revoked token at once instead of at its expiry.
 * A notice names a `jti`, a refresh-token `family`, a `session` (`sid`) or a whole `subject`
 * (tokens issued up to the revocation). Notices may repeat; applying one twice changes nothing.
 * Notices come from outside the process: each is checked, and a bad one is counted and skipped; times
 * are bounded (a notice revoked in the future or before 2015 is refused, an expiry past
 * `maxLifetimeMs` is cut to it).
 *
 * A notice v2 carries hashes of the ids instead (`id_sha256`: base64url SHA-256 of the id's UTF-8),
 * so whoever reads the notices — a denylist key — does not learn subjects, jtis or families: the
 * denylist matches a token by hashing its ids (only while it holds hashed entries of that kind).
 *
 * Full: the entry expiring soonest goes first (an expired one before any other; among live ones the
 * one that protects for the least time), in O(1) (sdk/src/expiry-index.ts); each time it is logged
 * (rate-limited), counted (`evicted`, `full`) and `onFull` is called — an alarm, not a quiet loss.
 */
import { createHash } from 'node:crypto';
import { ExpiryIndex } from './expiry-index.ts';
import { RateLimitedWarning, type SdkLogger, stderrLogger } from './log.ts';

export const REVOCATION_TARGETS = ['jti', 'family', 'session', 'subject'] as const;
export type RevocationTarget = (typeof REVOCATION_TARGETS)[number];

/** A revocation notice as tokenwatch publishes it (contract/revocation-notice-v1.ts; docs/response.md, "Revocation notices"). */
export interface RevocationNotice {
  version: 1;
  revocation_id: string;
  tenant: string;
  subject: string;
  target: RevocationTarget;
  id: string;
  /** the entry may be dropped after this (epoch ms) */
  expires_at_ms: number;
  revoked_at_ms: number;
  detection_id?: string;
  detector?: string;
  via?: { target: RevocationTarget; id: string };
}

/** A revocation notice v2: v1 with the ids hashed (contract/revocation-notice-v2.ts). */
export interface HashedRevocationNotice {
  version: 2;
  revocation_id: string;
  tenant: string;
  subject_sha256: string;
  target: RevocationTarget;
  id_sha256: string;
  expires_at_ms: number;
  revoked_at_ms: number;
  detection_id?: string;
  detector?: string;
  via?: { target: RevocationTarget; id_sha256: string };
}

/** The hash a notice v2 names an id by: base64url (no padding) of SHA-256 of its UTF-8. */
export const idHash = (id: string): string => createHash('sha256').update(id).digest('base64url');

/** What revoked a token. */
export interface DenylistMatch {
  target: RevocationTarget;
  /** the token's id that matched (for a hashed entry too) */
  id: string;
  revocation_id: string;
}

/** The token facts the denylist is checked against. */
export interface TokenIdentity {
  tenant: string;
  subject?: string;
  jti?: string;
  sessionId?: string;
  familyId?: string;
  /** issued at, epoch seconds (a subject revocation covers tokens issued up to it) */
  iat?: number;
}

export interface DenylistStats {
  entries: number;
  maxEntries: number;
  /** entries === maxEntries: the next new notice pushes one out */
  full: boolean;
  applied: number;
  /** notices that were not valid notices, or had absurd times (skipped) */
  invalid: number;
  /** notices already expired when they arrived */
  expired: number;
  /** notices whose expiry was past maxLifetimeMs, cut to it */
  clamped: number;
  /** verifications refused because of an entry */
  hits: number;
  /** live entries pushed out because the denylist was full (the soonest to expire) */
  evicted: number;
}

/** What `onFull` is told each time a live entry is pushed out (at most once per 10 s). */
export interface DenylistFullAlarm {
  maxEntries: number;
  /** live entries pushed out so far */
  evicted: number;
  /** when the entry pushed out last would have expired (epoch ms) */
  evictedExpiresMs: number;
}

export interface DenylistOptions {
  /** entries held at most; past it the soonest to expire are pushed out, with an error log and `onFull` (default 1,000,000) */
  maxEntries?: number;
  /** how often expired entries are swept, ms (default 60,000); they are ignored as soon as they expire */
  sweepIntervalMs?: number;
  /** a notice revoked later than now plus this is refused (default 300,000: clock skew) */
  maxClockSkewMs?: number;
  /** an entry is kept this long at most, whatever its notice says (default 400 days) */
  maxLifetimeMs?: number;
  /** the alarm when the denylist is full and pushes live entries out (rate-limited like the log) */
  onFull?: (alarm: DenylistFullAlarm) => void;
  logger?: SdkLogger;
}

interface Entry extends DenylistMatch {
  tenant: string;
  /** `id` is the id's hash (a notice v2) */
  hashed: boolean;
  expiresMs: number;
  revokedMs: number;
  /** ExpiryIndex's slot */
  bucket: number;
}

const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 512;
const isHash = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9_-]{43}$/.test(v);
const isMs = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
/** Before this, a revocation time is absurd (2015-01-01). */
const EARLIEST_MS = Date.UTC(2015, 0, 1);
const DAY_MS = 86_400_000;

/** The notice when `value` is a valid one (v1, or v2 with hashed ids); otherwise what is wrong with it. */
export function parseNotice(value: unknown): RevocationNotice | HashedRevocationNotice | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const n = value as Record<string, unknown>;
  if (n['version'] !== 1 && n['version'] !== 2)
    return `unsupported version ${JSON.stringify(n['version'])} (expected 1 or 2)`;
  if (!REVOCATION_TARGETS.includes(n['target'] as RevocationTarget))
    return `unknown target ${JSON.stringify(n['target'])}`;
  for (const field of ['revocation_id', 'tenant'] as const)
    if (!isId(n[field])) return `${field} must be a non-empty string`;
  if (n['version'] === 1 ? !isId(n['id']) : !isHash(n['id_sha256']))
    return n['version'] === 1 ? 'id must be a non-empty string' : 'id_sha256 must be a base64url SHA-256';
  for (const field of ['expires_at_ms', 'revoked_at_ms'] as const)
    if (!isMs(n[field])) return `${field} must be epoch milliseconds`;
  return value as RevocationNotice | HashedRevocationNotice;
}

/** A tenant's entries by target, then id (raw, or hashed): looked up without building a key string per check. */
type ByTarget = Record<RevocationTarget, Map<string, Entry>>;
const byTarget = (): ByTarget => ({
  jti: new Map(),
  family: new Map(),
  session: new Map(),
  subject: new Map(),
});
interface TenantEntries {
  raw: ByTarget;
  hashed: ByTarget;
  size: number;
}

export class Denylist {
  readonly #tenants = new Map<string, TenantEntries>();
  readonly #byExpiry = new ExpiryIndex<Entry>();
  #size = 0;
  readonly #max: number;
  readonly #skewMs: number;
  readonly #lifetimeMs: number;
  readonly #onFull: ((alarm: DenylistFullAlarm) => void) | undefined;
  readonly #log: SdkLogger;
  readonly #invalidWarning = new RateLimitedWarning(10_000);
  readonly #fullWarning = new RateLimitedWarning(10_000);
  readonly #sweeper: NodeJS.Timeout;
  readonly #stats = { applied: 0, invalid: 0, expired: 0, clamped: 0, hits: 0, evicted: 0 };

  constructor(options: DenylistOptions = {}) {
    this.#max = Math.max(1, options.maxEntries ?? 1_000_000);
    this.#skewMs = options.maxClockSkewMs ?? 300_000;
    this.#lifetimeMs = options.maxLifetimeMs ?? 400 * DAY_MS;
    this.#onFull = options.onFull;
    this.#log = options.logger ?? stderrLogger;
    this.#sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 60_000).unref();
  }

  get size(): number {
    return this.#size;
  }

  /** Applies a notice (validated first); false when it was invalid, had absurd times or already expired. */
  apply(value: unknown, nowMs = Date.now()): boolean {
    const notice = parseNotice(value);
    const problem = typeof notice === 'string' ? notice : this.#timeProblem(notice, nowMs);
    if (problem !== undefined) {
      this.#stats.invalid++;
      this.#invalidWarning.maybe((suppressed) =>
        this.#log.warn(
          { problem, notice: JSON.stringify(value)?.slice(0, 500), suppressed },
          'skipped an invalid revocation notice',
        ),
      );
      return false;
    }
    const n = notice as RevocationNotice | HashedRevocationNotice;
    if (n.expires_at_ms <= nowMs) {
      this.#stats.expired++;
      return false;
    }
    let expiresMs = n.expires_at_ms;
    if (expiresMs > nowMs + this.#lifetimeMs) {
      expiresMs = nowMs + this.#lifetimeMs;
      this.#stats.clamped++;
    }
    const hashed = n.version === 2;
    const id = n.version === 2 ? n.id_sha256 : n.id;
    const known = this.#tenants.get(n.tenant)?.[hashed ? 'hashed' : 'raw'][n.target].get(id);
    if (known !== undefined) {
      known.revokedMs = Math.max(known.revokedMs, n.revoked_at_ms);
      if (expiresMs > known.expiresMs) {
        known.expiresMs = expiresMs;
        this.#byExpiry.update(known);
      }
    } else {
      if (this.#size >= this.#max) this.#makeRoom(nowMs); // may drop the tenant's last entry: look it up after
      let tenant = this.#tenants.get(n.tenant);
      if (tenant === undefined) {
        tenant = { raw: byTarget(), hashed: byTarget(), size: 0 };
        this.#tenants.set(n.tenant, tenant);
      }
      const entries = (hashed ? tenant.hashed : tenant.raw)[n.target];
      const entry: Entry = {
        target: n.target,
        id,
        revocation_id: n.revocation_id,
        tenant: n.tenant,
        hashed,
        expiresMs,
        revokedMs: n.revoked_at_ms,
        bucket: 0,
      };
      entries.set(id, entry);
      this.#byExpiry.add(entry);
      tenant.size++;
      this.#size++;
    }
    this.#stats.applied++;
    return true;
  }

  /** The entry that revokes a token with these facts, if any. */
  match(token: TokenIdentity, nowMs = Date.now()): DenylistMatch | undefined {
    const tenant = this.#size === 0 ? undefined : this.#tenants.get(token.tenant);
    if (tenant === undefined) return undefined;
    const { raw, hashed } = tenant;
    const found =
      live(raw.jti, token.jti, nowMs) ??
      live(raw.session, token.sessionId, nowMs) ??
      live(raw.family, token.familyId, nowMs) ??
      liveHashed(hashed.jti, token.jti, nowMs) ??
      liveHashed(hashed.session, token.sessionId, nowMs) ??
      liveHashed(hashed.family, token.familyId, nowMs);
    if (found !== undefined) return this.#hit(found);
    const bySubject =
      live(raw.subject, token.subject, nowMs) ?? liveHashed(hashed.subject, token.subject, nowMs);
    // A subject revocation covers the tokens issued up to it (a token without `iat` is covered).
    if (bySubject !== undefined && (token.iat === undefined || token.iat * 1000 <= bySubject[0].revokedMs))
      return this.#hit(bySubject);
    return undefined;
  }

  /** Drops expired entries: whole minutes that ended, then those of the current minute (the work is about the expired entries). */
  sweep(nowMs = Date.now()): void {
    for (const entry of this.#byExpiry.takeExpired(nowMs)) this.#forget(entry);
    for (const entry of this.#byExpiry.takeExpiredOfSoonest(nowMs)) this.#forget(entry);
  }

  stats(): DenylistStats {
    return { ...this.#stats, entries: this.#size, maxEntries: this.#max, full: this.#size >= this.#max };
  }

  /** Stops the sweeper (the denylist keeps answering). */
  close(): void {
    clearInterval(this.#sweeper);
  }

  /** Why a (well-formed) notice's times are absurd, if they are. */
  #timeProblem(n: RevocationNotice | HashedRevocationNotice, nowMs: number): string | undefined {
    if (n.revoked_at_ms < EARLIEST_MS) return 'revoked_at_ms is before 2015';
    if (n.revoked_at_ms > nowMs + this.#skewMs)
      return `revoked_at_ms is ${n.revoked_at_ms - nowMs} ms in the future (more than maxClockSkewMs ${this.#skewMs})`;
    return undefined;
  }

  #hit([entry, id]: [Entry, string]): DenylistMatch {
    this.#stats.hits++;
    return { target: entry.target, id, revocation_id: entry.revocation_id };
  }

  #forget(entry: Entry): void {
    const tenant = this.#tenants.get(entry.tenant);
    if (tenant === undefined) return;
    (entry.hashed ? tenant.hashed : tenant.raw)[entry.target].delete(entry.id);
    this.#size--;
    if (--tenant.size === 0) this.#tenants.delete(entry.tenant);
  }

  /** Makes room for one: drops what expired, else pushes out the live entry expiring soonest (alarm). */
  #makeRoom(nowMs: number): void {
    // whole minutes that ended only (O(what expired)); the current minute's expired ones come first below anyway
    for (const entry of this.#byExpiry.takeExpired(nowMs)) this.#forget(entry);
    if (this.#size < this.#max) return;
    const entry = this.#byExpiry.takeSoonest();
    if (entry === undefined) return;
    this.#forget(entry);
    if (entry.expiresMs <= nowMs) return; // expired already (within the current minute): no loss
    this.#stats.evicted++;
    this.#fullWarning.maybe((suppressed) => {
      this.#log.error(
        { maxEntries: this.#max, evicted: this.#stats.evicted, suppressed },
        'the denylist is full: live entries are pushed out, those expiring soonest first (raise maxEntries)',
      );
      this.#onFull?.({
        maxEntries: this.#max,
        evicted: this.#stats.evicted,
        evictedExpiresMs: entry.expiresMs,
      });
    });
  }
}

function live(
  entries: Map<string, Entry>,
  id: string | undefined,
  nowMs: number,
): [Entry, string] | undefined {
  if (id === undefined || id === '' || entries.size === 0) return undefined;
  const entry = entries.get(id);
  return entry !== undefined && entry.expiresMs > nowMs ? [entry, id] : undefined;
}

/** Like live, for entries keyed by the id's hash: hashes only when there are any. */
function liveHashed(
  entries: Map<string, Entry>,
  id: string | undefined,
  nowMs: number,
): [Entry, string] | undefined {
  if (id === undefined || id === '' || entries.size === 0) return undefined;
  const entry = entries.get(idHash(id));
  return entry !== undefined && entry.expiresMs > nowMs ? [entry, id] : undefined;
}
