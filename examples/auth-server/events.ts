/**
 * What the routes report to tokenwatch, through the SDK's auth-server emitters
 * (`createAuthEvents`): who made the request, and the ids and claims of what was issued.
 */
import type { FastifyRequest } from 'fastify';
import type { AccessTokenFields, CallerContext, GrantContext } from '../../sdk/src/index.ts';
import type { Family } from './store.ts';
import type { IssuedAccessToken } from './tokens.ts';

/** Who made the request: address (as trustProxy resolves it), User-Agent, device id (header or body). */
export function callerOf(request: FastifyRequest, bodyDeviceId?: string): CallerContext {
  const header = request.headers['x-device-id'];
  const deviceId = typeof header === 'string' && header !== '' ? header : bodyDeviceId;
  return { ip: request.ip, userAgent: request.headers['user-agent'], deviceId: deviceId || undefined };
}

/** A family's grant, asked for by the request's caller. */
export function grantOf(family: Family, caller: CallerContext): GrantContext & { familyId: string } {
  return {
    ...caller,
    subject: family.subject,
    clientId: family.clientId,
    sessionId: family.sessionId,
    familyId: family.id,
  };
}

/** An issued access token's claims and header fields. */
export function accessTokenOf({ claims, kid, alg }: IssuedAccessToken): AccessTokenFields {
  const { jti, iss, aud, iat, exp, cnf } = claims;
  return {
    jti,
    iss,
    aud,
    kid,
    alg,
    iat,
    exp,
    ...(cnf === undefined ? {} : { bound_key_kind: 'dpop', bound_key_thumbprint: cnf.jkt }),
  };
}
