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

/** A revocation notice as tokenwatch publishes it (response/README.md, "Revocation notices"). */
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

const keyOf = (tenant: string, target: RevocationTarget, id: string) => `${tenant}\u0000${target}\u0000${id}`;

export class Denylist {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  readonly #log: SdkLogger;
  readonly #invalidWarning = new RateLimitedWarning(10_000);
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
    return this.#entries.size;
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
    const key = keyOf(notice.tenant, notice.target, notice.id);
    const known = this.#entries.get(key);
    if (known !== undefined) {
      known.expiresMs = Math.max(known.expiresMs, notice.expires_at_ms);
      known.revokedMs = Math.max(known.revokedMs, notice.revoked_at_ms);
    } else {
      if (this.#entries.size >= this.#max) this.#evictOldest();
      this.#entries.set(key, {
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
    if (this.#entries.size === 0) return undefined;
    const found =
      this.#live(token.tenant, 'jti', token.jti, nowMs) ??
      this.#live(token.tenant, 'session', token.sessionId, nowMs) ??
      this.#live(token.tenant, 'family', token.familyId, nowMs);
    if (found !== undefined) return this.#hit(found);
    const bySubject = this.#live(token.tenant, 'subject', token.subject, nowMs);
    // A subject revocation covers the tokens issued up to it (a token without `iat` is covered).
    if (bySubject !== undefined && (token.iat === undefined || token.iat * 1000 <= bySubject.revokedMs))
      return this.#hit(bySubject);
    return undefined;
  }

  /** Drops expired entries. */
  sweep(nowMs = Date.now()): void {
    for (const [key, entry] of this.#entries) if (entry.expiresMs <= nowMs) this.#entries.delete(key);
  }

  stats(): DenylistStats {
    return { ...this.#stats, entries: this.#entries.size };
  }

  /** Stops the sweeper (the denylist keeps answering). */
  close(): void {
    clearInterval(this.#sweeper);
  }

  #live(tenant: string, target: RevocationTarget, id: string | undefined, nowMs: number): Entry | undefined {
    if (id === undefined || id === '') return undefined;
    const entry = this.#entries.get(keyOf(tenant, target, id));
    return entry !== undefined && entry.expiresMs > nowMs ? entry : undefined;
  }

  #hit(entry: Entry): DenylistMatch {
    this.#stats.hits++;
    return { target: entry.target, id: entry.id, revocation_id: entry.revocation_id };
  }

  #evictOldest(): void {
    this.sweep();
    if (this.#entries.size < this.#max) return;
    this.#entries.delete(this.#entries.keys().next().value as string);
    this.#stats.evicted++;
    this.#invalidWarning.maybe(() =>
      this.#log.error(
        { maxEntries: this.#max },
        'the denylist is full: the oldest entries are pushed out (raise maxEntries)',
      ),
    );
  }
}
