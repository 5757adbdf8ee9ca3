/**
 * The local denylist: revocation notices from tokenwatch (followed on Kafka or polled over HTTP)
 * kept until they expire, so `verify` refuses a revoked token at once instead of at its expiry.
 * A notice names a `jti`, a refresh-token `family`, a `session` (`sid`) or a whole `subject`
 * (tokens issued up to the revocation). Notices may repeat; applying one twice changes nothing.
 * Notices come from outside the process: each is checked, and a bad one is counted and skipped.
 */
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

/** What revoked a token. */
export interface DenylistMatch {
  target: RevocationTarget;
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
  applied: number;
  /** notices that were not valid notices (skipped) */
  invalid: number;
  /** notices already expired when they arrived */
  expired: number;
  /** verifications refused because of an entry */
  hits: number;
  /** entries pushed out because the denylist was full */
  evicted: number;
}

export interface DenylistOptions {
  /** entries held at most; past it the oldest are pushed out, with an error log (default 1,000,000) */
  maxEntries?: number;
  /** how often expired entries are swept, ms (default 60,000); they are ignored as soon as they expire */
  sweepIntervalMs?: number;
  logger?: SdkLogger;
}

interface Entry extends DenylistMatch {
  expiresMs: number;
  revokedMs: number;
}

const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 512;
const isMs = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** The notice when `value` is a valid one; otherwise what is wrong with it. */
export function parseNotice(value: unknown): RevocationNotice | string {
  if (typeof value !== 'object' || value === null) return 'not a JSON object';
  const n = value as Record<string, unknown>;
  if (n['version'] !== 1) return `unsupported version ${JSON.stringify(n['version'])} (expected 1)`;
  if (!REVOCATION_TARGETS.includes(n['target'] as RevocationTarget))
    return `unknown target ${JSON.stringify(n['target'])}`;
  for (const field of ['revocation_id', 'tenant', 'id'] as const)
    if (!isId(n[field])) return `${field} must be a non-empty string`;
  for (const field of ['expires_at_ms', 'revoked_at_ms'] as const)
    if (!isMs(n[field])) return `${field} must be epoch milliseconds`;
  return value as RevocationNotice;
}

/** A tenant's entries by target, then id: looked up without building a key string per check. */
type TenantEntries = Record<RevocationTarget, Map<string, Entry>>;
const emptyTenant = (): TenantEntries => ({
  jti: new Map(),
  family: new Map(),
  session: new Map(),
  subject: new Map(),
});

export class Denylist {
  readonly #tenants = new Map<string, TenantEntries>();
  #size = 0;
  readonly #max: number;
  readonly #log: SdkLogger;
  readonly #invalidWarning = new RateLimitedWarning(10_000);
  readonly #fullWarning = new RateLimitedWarning(10_000);
  readonly #sweeper: NodeJS.Timeout;
  readonly #stats: Omit<DenylistStats, 'entries'> = {
    applied: 0,
    invalid: 0,
    expired: 0,
    hits: 0,
    evicted: 0,
  };

  constructor(options: DenylistOptions = {}) {
    this.#max = options.maxEntries ?? 1_000_000;
    this.#log = options.logger ?? stderrLogger;
    this.#sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 60_000).unref();
  }

  get size(): number {
    return this.#size;
  }

  /** Applies a notice (validated first); false when it was invalid or already expired. */
  apply(value: unknown, nowMs = Date.now()): boolean {
    const notice = parseNotice(value);
    if (typeof notice === 'string') {
      this.#stats.invalid++;
      this.#invalidWarning.maybe((suppressed) =>
        this.#log.warn(
          { problem: notice, notice: JSON.stringify(value)?.slice(0, 500), suppressed },
          'skipped an invalid revocation notice',
        ),
      );
      return false;
    }
    if (notice.expires_at_ms <= nowMs) {
      this.#stats.expired++;
      return false;
    }
    let tenant = this.#tenants.get(notice.tenant);
    if (tenant === undefined) {
      tenant = emptyTenant();
      this.#tenants.set(notice.tenant, tenant);
    }
    const known = tenant[notice.target].get(notice.id);
    if (known !== undefined) {
      known.expiresMs = Math.max(known.expiresMs, notice.expires_at_ms);
      known.revokedMs = Math.max(known.revokedMs, notice.revoked_at_ms);
    } else {
      if (this.#size >= this.#max) this.#evictOldest();
      this.#size++;
      tenant[notice.target].set(notice.id, {
        target: notice.target,
        id: notice.id,
        revocation_id: notice.revocation_id,
        expiresMs: notice.expires_at_ms,
        revokedMs: notice.revoked_at_ms,
      });
    }
    this.#stats.applied++;
    return true;
  }

  /** The entry that revokes a token with these facts, if any. */
  match(token: TokenIdentity, nowMs = Date.now()): DenylistMatch | undefined {
    const tenant = this.#size === 0 ? undefined : this.#tenants.get(token.tenant);
    if (tenant === undefined) return undefined;
    const found =
      live(tenant.jti, token.jti, nowMs) ??
      live(tenant.session, token.sessionId, nowMs) ??
      live(tenant.family, token.familyId, nowMs);
    if (found !== undefined) return this.#hit(found);
    const bySubject = live(tenant.subject, token.subject, nowMs);
    // A subject revocation covers the tokens issued up to it (a token without `iat` is covered).
    if (bySubject !== undefined && (token.iat === undefined || token.iat * 1000 <= bySubject.revokedMs))
      return this.#hit(bySubject);
    return undefined;
  }

  /** Drops expired entries. */
  sweep(nowMs = Date.now()): void {
    for (const [name, tenant] of this.#tenants) {
      let left = 0;
      for (const target of REVOCATION_TARGETS) {
        for (const [id, entry] of tenant[target])
          if (entry.expiresMs <= nowMs) {
            tenant[target].delete(id);
            this.#size--;
          }
        left += tenant[target].size;
      }
      if (left === 0) this.#tenants.delete(name);
    }
  }

  stats(): DenylistStats {
    return { ...this.#stats, entries: this.#size };
  }

  /** Stops the sweeper (the denylist keeps answering). */
  close(): void {
    clearInterval(this.#sweeper);
  }

  #hit(entry: Entry): DenylistMatch {
    this.#stats.hits++;
    return { target: entry.target, id: entry.id, revocation_id: entry.revocation_id };
  }

  /** Makes room: drops what expired, else the earliest-added entry of the first tenant and target that has one. */
  #evictOldest(): void {
    this.sweep();
    if (this.#size < this.#max) return;
    for (const tenant of this.#tenants.values()) {
      const target = REVOCATION_TARGETS.find((t) => tenant[t].size > 0);
      if (target === undefined) continue;
      tenant[target].delete(tenant[target].keys().next().value as string);
      this.#size--;
      break;
    }
    this.#stats.evicted++;
    this.#fullWarning.maybe(() =>
      this.#log.error(
        { maxEntries: this.#max },
        'the denylist is full: the oldest entries are pushed out (raise maxEntries)',
      ),
    );
  }
}

function live(entries: Map<string, Entry>, id: string | undefined, nowMs: number): Entry | undefined {
  if (id === undefined || id === '') return undefined;
  const entry = entries.get(id);
  return entry !== undefined && entry.expiresMs > nowMs ? entry : undefined;
}
