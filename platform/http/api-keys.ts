/**
 * Per-tenant API keys and the role each declares. Keys are compared by their SHA-256 digest, so
 * lookups do not leak key bytes through timing. A key's role says what its holder may report:
 * `verifier` (access-token verifications only) or `auth-server` (every event type); a key without
 * a role keeps the rights keys had before roles (every type) and is counted and warned about.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** What a key's holder is: a verifier (an API checking access tokens) or the auth server itself. */
export const REPORTER_ROLES = ['verifier', 'auth-server'] as const;
export type ReporterRole = (typeof REPORTER_ROLES)[number];

/** One configured key: the tenant it belongs to, the key itself and its role ('' = none declared). */
export interface ApiKey {
  tenant: string;
  key: string;
  role?: ReporterRole | '';
}

/** Who presented a key: its tenant, an id that names it without revealing it, and its role. */
export interface KeyIdentity {
  tenant: string;
  /** `tenant:` + a digest prefix */
  id: string;
  /** '' for a key configured without a role */
  role: ReporterRole | '';
}

/** Shortest key accepted. */
export const MIN_KEY_LENGTH = 16;

const ROLE_SET: ReadonlySet<string> = new Set(REPORTER_ROLES);

/**
 * One `TOKENWATCH_API_KEYS`-style entry: `tenant:key` or `tenant:key:role` (role `verifier` or
 * `auth-server`). Returns the key, or a problem that says what was wrong with the entry (never the
 * key itself) and what to write instead.
 */
export function parseApiKeyEntry(
  entry: string,
  env: string,
  opts: { roles: boolean },
): { ok: true; key: ApiKey } | { ok: false; problem: string } {
  const sep = entry.indexOf(':');
  const tenant = entry.slice(0, sep);
  let key = entry.slice(sep + 1);
  let role: ApiKey['role'] = '';
  const last = key.lastIndexOf(':');
  if (opts.roles && last >= 0 && ROLE_SET.has(key.slice(last + 1))) {
    role = key.slice(last + 1) as ReporterRole;
    key = key.slice(0, last);
  }
  const named = JSON.stringify(sep > 0 ? tenant : '(no tenant)');
  if (sep <= 0 || key.length < MIN_KEY_LENGTH) {
    const shape = opts.roles ? 'tenant:key or tenant:key:role (role verifier or auth-server)' : 'tenant:key';
    return {
      ok: false,
      problem: `${env} entries must be ${shape} with a key of at least ${MIN_KEY_LENGTH} characters (got an entry for ${named})`,
    };
  }
  return { ok: true, key: role === '' ? { tenant, key } : { tenant, key, role } };
}

const digest = (key: string) => createHash('sha256').update(key).digest('base64');

export class ApiKeys {
  readonly #byDigest: Map<string, { tenant: string; role: ReporterRole | '' }>;

  constructor(keys: ApiKey[]) {
    this.#byDigest = new Map(keys.map((k) => [digest(k.key), { tenant: k.tenant, role: k.role ?? '' }]));
  }

  get size(): number {
    return this.#byDigest.size;
  }

  /** How many keys declare no role (they may report every type: a start-up warning and a gauge). */
  get withoutRole(): number {
    let n = 0;
    for (const k of this.#byDigest.values()) if (k.role === '') n++;
    return n;
  }

  /** The tenant of the key in `Authorization: Bearer …` or `X-Api-Key`; undefined when absent or unknown. */
  authenticate(headers: IncomingHttpHeaders): string | undefined {
    return this.identify(headers)?.tenant;
  }

  /** The known key presented: its tenant, its id (a digest prefix) and its role. */
  identify(headers: IncomingHttpHeaders): KeyIdentity | undefined {
    const key = presentedKey(headers);
    if (key === undefined || key === '') return undefined;
    const d = digest(key);
    const known = this.#byDigest.get(d);
    return known === undefined
      ? undefined
      : { tenant: known.tenant, id: `${known.tenant}:${d.slice(0, 12)}`, role: known.role };
  }
}

/** The key in `Authorization: Bearer …`, else in `X-Api-Key`. */
function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth !== undefined && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim();
  const header = headers['x-api-key'];
  return typeof header === 'string' ? header.trim() : undefined;
}
