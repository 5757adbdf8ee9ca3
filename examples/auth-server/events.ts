/**
 * What the routes report to tokenwatch, through the SDK's auth-server emitters
 * (`createAuthEvents`): who made the request, and the ids and claims of what was issued.
 */
import type { FastifyRequest } from 'fastify';
import type { AccessTokenFields, CallerContext, GrantContext } from '../../sdk/src/index.ts';
import type { Family } from './store.ts';
import type { IssuedAccessToken } from './tokens.ts';

/**
 * Who made the request: address (as trustProxy resolves it), User-Agent, device id. A device id in
 * the `x-device-id` header is the client's word (source `header`, weak); one in the token request's
 * body is what this server records for the grant at issuance (the emitters' default `auth_server`).
 */
export function callerOf(request: FastifyRequest, bodyDeviceId?: string): CallerContext {
  const ip = request.ip;
  const userAgent = request.headers['user-agent'];
  const header = request.headers['x-device-id'];
  if (typeof header === 'string' && header !== '')
    return { ip, userAgent, deviceId: header, deviceIdSource: 'header' };
  return { ip, userAgent, deviceId: bodyDeviceId || undefined };
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
