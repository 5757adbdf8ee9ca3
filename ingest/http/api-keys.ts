/** Per-tenant API keys. Keys are compared by their SHA-256 digest, so lookups do not leak key bytes through timing. */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ApiKey } from '../config.ts';

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
    const auth = headers.authorization;
    const bearer =
      auth !== undefined && /^bearer\s+/i.test(auth) ? auth.replace(/^bearer\s+/i, '').trim() : undefined;
    const header = headers['x-api-key'];
    const key = bearer ?? (typeof header === 'string' ? header.trim() : undefined);
    if (key === undefined || key === '') return undefined;
    return this.#tenantByDigest.get(digest(key));
  }
}
