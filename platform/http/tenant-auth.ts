/**
 * Tenant authentication for a group of routes: an `onRequest` hook that takes the key a request
 * presents (`Authorization: Bearer …` or `X-Api-Key`), finds the tenant among the key rings the
 * routes accept, in order, and sets `request.auth`; an unknown or missing key is answered 401 with
 * `WWW-Authenticate` and what to send. A route plugin adds it to its own (encapsulated) context, so
 * which keys a route takes is written where the route is.
 */
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { ApiKeys } from './api-keys.ts';
import { httpError } from './errors.ts';

/** A kind of key the routes accept. */
export interface KeyRing {
  /** what the key is to its holder: "a tenant's event key", "a read key" */
  readonly kind: 'event' | 'read' | 'denylist';
  readonly keys: ApiKeys;
  /** the variable that configures them (named in the answer) */
  readonly env: string;
}

export interface RequestAuth {
  /** the key's tenant (`*` for a read key of every tenant) */
  tenant: string;
  kind: KeyRing['kind'];
}

const NAMES: Record<KeyRing['kind'], string> = {
  event: "a tenant's event key",
  read: 'a read key',
  denylist: 'a denylist key',
};

/** The hook that authenticates a request by the key rings given (the first that knows its key wins). */
export function tenantAuth(rings: readonly KeyRing[], what: string): onRequestAsyncHookHandler {
  const configured = rings.some((r) => r.keys.size > 0);
  const envs = rings.map((r) => r.env).join(', ');
  const missing = configured
    ? `send ${rings.map((r) => `${NAMES[r.kind]} (${r.env})`).join(' or ')} as Authorization: Bearer <key> or X-Api-Key`
    : `no keys are configured for ${what} (${envs}): every request is refused`;
  return async (request: FastifyRequest, reply) => {
    for (const ring of rings) {
      const tenant = ring.keys.authenticate(request.headers);
      if (tenant !== undefined) {
        request.auth = { tenant, kind: ring.kind };
        return;
      }
    }
    reply.header('www-authenticate', 'Bearer realm="tokenwatch"');
    throw httpError('unauthorized', missing);
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** set by tenantAuth for the routes it guards */
    auth?: RequestAuth;
  }
}
