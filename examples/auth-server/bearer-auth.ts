/**
 * Bearer authentication with this server's own access tokens: signature against the key ring
 * (pinned alg), issuer, audience, expiry, and the denylist. Failures are 401 with an RFC 6750 challenge.
 */
import type { FastifyRequest } from 'fastify';
import { bearerChallenge, bearerToken, httpError } from './http.ts';
import type { AuthStore } from './store.ts';
import type { AccessClaims, AccessTokens } from './tokens.ts';

/**
 * The claims of the request's valid, non-revoked bearer token. `missingError`: the challenge's
 * error code when there is no token at all (RFC 6750 says none; some contracts want invalid_token).
 */
export async function requireAccessToken(
  request: FastifyRequest,
  tokens: AccessTokens,
  store: AuthStore,
  missingError?: string,
): Promise<AccessClaims> {
  const token = bearerToken(request);
  if (token === undefined) {
    const description = 'no bearer token: send Authorization: Bearer <access token>';
    throw httpError(401, 'invalid_token', description, bearerChallenge(missingError, description));
  }
  let claims: AccessClaims;
  try {
    claims = await tokens.verify(token);
  } catch (err) {
    const description = `the bearer token is not valid: ${(err as Error).message}`;
    throw httpError(401, 'invalid_token', description, bearerChallenge('invalid_token', description));
  }
  if (store.isDenied(claims.jti)) {
    const description = `the bearer token (jti ${claims.jti}) was revoked`;
    throw httpError(401, 'invalid_token', description, bearerChallenge('invalid_token', description));
  }
  return claims;
}
