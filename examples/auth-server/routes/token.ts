/**
 * POST /oauth/token (form-encoded or JSON): password login, refresh-token rotation, client
 * credentials. Logins and refreshes are reported to tokenwatch. A rotated refresh token presented
 * again is rotated anyway (the family forks) unless AUTH_REUSE_DETECTION is on: catching that
 * replay is tokenwatch's job.
 */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AuthContext } from '../context.ts';
import { accessTokenOf, callerOf, grantOf } from '../events.ts';
import { authenticateClient, httpError, secretsEqual } from '../http.ts';
import type { Family } from '../store.ts';
import type { IssuedAccessToken } from '../tokens.ts';

const TokenRequest = Type.Object({
  grant_type: Type.String({ minLength: 1, maxLength: 64 }),
  username: Type.Optional(Type.String({ maxLength: 256 })),
  password: Type.Optional(Type.String({ maxLength: 1024 })),
  refresh_token: Type.Optional(Type.String({ maxLength: 1024 })),
  client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  client_secret: Type.Optional(Type.String({ maxLength: 1024 })),
  scope: Type.Optional(Type.String({ maxLength: 1024 })),
  device_id: Type.Optional(Type.String({ maxLength: 256 })),
  /**
   * the client's DPoP key (its JWK SHA-256 thumbprint, as RFC 9449 §10's `dpop_jkt`): the family's
   * access tokens are bound to it (`cnf.jkt`). A simplification of the example: a real server takes
   * the key from a DPoP proof sent to the token endpoint.
   */
  dpop_jkt: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' })),
});
type TokenRequest = Static<typeof TokenRequest>;

const DEFAULT_USER_SCOPE = 'api';
/** only clients get it (client_credentials): it opens the revocation API */
const REVOKE_SCOPE = 'revoke';

export const tokenRoute: FastifyPluginAsync<{ ctx: AuthContext }> = async (app, { ctx }) => {
  const { config, store, tokens, events } = ctx;

  const required = (body: TokenRequest, name: 'username' | 'password' | 'refresh_token'): string => {
    const value = body[name];
    if (value === undefined || value === '') {
      throw httpError(400, 'invalid_request', `${name} is required for grant_type=${body.grant_type}`);
    }
    return value;
  };

  const issueAccess = async (family: Family): Promise<IssuedAccessToken> => {
    const access = await tokens.issue({
      subject: family.subject,
      scope: family.scope,
      sessionId: family.sessionId,
      ...(family.clientId === undefined ? {} : { clientId: family.clientId }),
      ...(family.dpopJkt === undefined ? {} : { dpopJkt: family.dpopJkt }),
    });
    store.recordAccessToken(access.claims, family.id);
    return access;
  };

  const grant = (request: FastifyRequest, body: TokenRequest, family: Family) =>
    grantOf(family, callerOf(request, body.device_id));

  const grantResponse = (access: IssuedAccessToken, refreshToken?: string) => ({
    access_token: access.token,
    token_type: access.claims.cnf === undefined ? 'Bearer' : 'DPoP',
    expires_in: tokens.ttlSeconds,
    ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }),
    scope: access.claims.scope,
  });

  const login = async (request: FastifyRequest, body: TokenRequest) => {
    const username = required(body, 'username');
    const password = required(body, 'password');
    const user = config.users.find((u) => u.name === username);
    const valid = user === undefined ? config.allowAnyUser : secretsEqual(password, user.password);
    if (!valid) {
      throw httpError(
        400,
        'invalid_grant',
        `wrong username or password (username ${JSON.stringify(username)})`,
      );
    }
    const scope = body.scope?.trim() || DEFAULT_USER_SCOPE;
    if (scope.split(' ').includes(REVOKE_SCOPE)) {
      throw httpError(
        400,
        'invalid_scope',
        `scope ${REVOKE_SCOPE} is only granted to clients (grant_type=client_credentials)`,
      );
    }
    const family = store.createFamily(username, scope, body.client_id, body.dpop_jkt);
    const refresh = store.issueRefreshToken(family);
    const access = await issueAccess(family);
    events.reportIssuance({
      ...grant(request, body, family),
      tokenId: refresh.tokenId,
      accessToken: accessTokenOf(access),
      grant: 'password',
    });
    request.log.debug({ subject: username, family_id: family.id, session_id: family.sessionId }, 'login');
    return grantResponse(access, refresh.token);
  };

  const refresh = async (request: FastifyRequest, body: TokenRequest) => {
    const lookup = store.findRefreshToken(required(body, 'refresh_token'));
    if (lookup.status === 'unknown') {
      throw httpError(400, 'invalid_grant', 'the refresh token is unknown or malformed; log in again');
    }
    const { family, token } = lookup;
    const reject = (
      reason: 'invalid_secret' | 'revoked' | 'expired' | 'reuse_detected',
      description: string,
    ) => {
      events.reportRefresh({
        ...grant(request, body, family),
        tokenId: token.tokenId,
        outcome: 'rejected',
        reason,
      });
      request.log.info({ family_id: family.id, token_id: token.tokenId, reason }, 'refresh rejected');
      return httpError(400, 'invalid_grant', description);
    };
    // The token id is known but the secret is not its: the sender never held the token. Reported
    // as its own reason (never a use of the token: detectors must not take it for a replay).
    if (lookup.status === 'wrong_secret') {
      throw reject('invalid_secret', 'the refresh token is unknown or malformed; log in again');
    }
    if (family.revokedAtMs !== undefined || store.isDenied(token.tokenId)) {
      throw reject('revoked', `the refresh token's family ${family.id} was revoked; log in again`);
    }
    if (store.clock() >= family.expiresAtMs)
      throw reject('expired', 'the refresh token expired; log in again');
    if (token.rotated && config.reuseDetection) {
      const error = reject(
        'reuse_detected',
        `the refresh token was already used; family ${family.id} is revoked, log in again`,
      );
      store.revoke({ target: 'family', id: family.id });
      events.reportRevocation({ ...grant(request, body, family), reason: 'reuse_detected' });
      throw error;
    }
    token.rotated = true;
    const next = store.issueRefreshToken(family);
    const access = await issueAccess(family);
    events.reportRefresh({
      ...grant(request, body, family),
      tokenId: token.tokenId,
      newTokenId: next.tokenId,
      outcome: 'rotated',
      reason: 'ok',
      accessToken: accessTokenOf(access),
    });
    return grantResponse(access, next.token);
  };

  const clientCredentials = async (request: FastifyRequest, body: TokenRequest) => {
    const client = authenticateClient(request, body, config.clients);
    const requested = body.scope?.split(' ').filter((s) => s !== '') ?? client.scopes;
    const refused = requested.filter((s) => !client.scopes.includes(s));
    if (refused.length > 0) {
      throw httpError(
        400,
        'invalid_scope',
        `client ${client.id} may not request scope ${refused.join(' ')}; AUTH_CLIENTS gives it: ${client.scopes.join(' ')}`,
      );
    }
    const access = await tokens.issue({
      subject: client.id,
      clientId: client.id,
      scope: requested.join(' '),
    });
    store.recordAccessToken(access.claims);
    return grantResponse(access);
  };

  app.post<{ Body: TokenRequest }>(
    '/oauth/token',
    { schema: { body: TokenRequest } },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const body = request.body;
      if (body.grant_type === 'password') return login(request, body);
      if (body.grant_type === 'refresh_token') return refresh(request, body);
      if (body.grant_type === 'client_credentials') return clientCredentials(request, body);
      throw httpError(
        400,
        'unsupported_grant_type',
        `grant_type ${JSON.stringify(body.grant_type)} is not supported: use password, refresh_token or client_credentials`,
      );
    },
  );
};
