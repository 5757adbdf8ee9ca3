/** Per-tenant API keys. Keys are compared by their SHA-256 digest, so lookups do not leak key bytes through timing. */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** One configured key: the tenant it belongs to and the key itself. */
export interface ApiKey {
  tenant: string;
  key: string;
}

const digest = (key: string) => createHash('sha256').update(key).digest('base64');

export class ApiKeys {
  readonly #tenantByDigest: Map<string, string>;

  constructor(keys: ApiKey[]) {
    this.#tenantByDigest = new Map(keys.map((k) => [digest(k.key), k.tenant]));
  }

  get size(): number {
    return this.#tenantByDigest.size;
  }

  /** The tenant of the key in `Authorization: Bearer …` or `X-Api-Key`; undefined when absent or unknown. */
  authenticate(headers: IncomingHttpHeaders): string | undefined {
    return this.identify(headers)?.tenant;
  }

  /** The known key presented and its tenant; `id` names the key without revealing it (a digest prefix). */
  identify(headers: IncomingHttpHeaders): { tenant: string; id: string } | undefined {
    const key = presentedKey(headers);
    if (key === undefined || key === '') return undefined;
    const d = digest(key);
    const tenant = this.#tenantByDigest.get(d);
    return tenant === undefined ? undefined : { tenant, id: `${tenant}:${d.slice(0, 12)}` };
  }
}

/** The key in `Authorization: Bearer …`, else in `X-Api-Key`. */
function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth !== undefined && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim();
  const header = headers['x-api-key'];
  return typeof header === 'string' ? header.trim() : undefined;
}
