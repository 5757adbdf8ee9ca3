/**
 * RFC 7009 token revocation, POST /oauth/revoke, for authenticated clients: a refresh token revokes
 * its family, an access token this server signed has its jti denied until it expires. Unknown,
 * invalid and expired tokens are answered 200 as well (there is nothing left to revoke).
 */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { AuthContext } from '../context.ts';
import { callerOf, grantOf } from '../events.ts';
import { authenticateClient, httpError } from '../http.ts';

const RevokeRequest = Type.Object({
  token: Type.String({ maxLength: 8192 }),
  token_type_hint: Type.Optional(Type.String({ maxLength: 64 })),
  client_id: Type.Optional(Type.String({ maxLength: 256 })),
  client_secret: Type.Optional(Type.String({ maxLength: 1024 })),
});
type RevokeRequest = Static<typeof RevokeRequest>;

const TOKEN_TYPES = ['refresh_token', 'access_token'];

export const revokeRoute: FastifyPluginAsync<{ ctx: AuthContext }> = async (app, { ctx }) => {
  const { config, store, tokens, events } = ctx;

  app.post<{ Body: RevokeRequest }>(
    '/oauth/revoke',
    { schema: { body: RevokeRequest } },
    async (request, reply) => {
      const client = authenticateClient(request, request.body, config.clients);
      const { token, token_type_hint: hint } = request.body;
      if (hint !== undefined && !TOKEN_TYPES.includes(hint)) {
        throw httpError(
          400,
          'unsupported_token_type',
          `token_type_hint ${JSON.stringify(hint)} is not supported: use refresh_token or access_token`,
        );
      }
      reply.header('cache-control', 'no-store');
      const caller = callerOf(request);

      // The token's own format tells which kind it is; the hint is only a hint (RFC 7009 §2.1).
      const lookup = store.findRefreshToken(token);
      if (lookup.status === 'ok') {
        const { family } = lookup;
        if (store.revoke({ target: 'family', id: family.id })?.revokedNow) {
          events.reportRevocation({ ...grantOf(family, caller), reason: 'rfc7009' });
          request.log.info(
            { client: client.id, family_id: family.id },
            'refresh token family revoked (RFC 7009)',
          );
        }
        return reply.code(200).send();
      }
      const claims = await tokens.verify(token).catch(() => undefined);
      if (claims !== undefined && store.revoke({ target: 'jti', id: claims.jti })?.revokedNow) {
        events.reportRevocation({
          ...caller,
          subject: claims.sub,
          clientId: claims.client_id,
          sessionId: claims.sid,
          jti: claims.jti,
          reason: 'rfc7009',
        });
        request.log.info({ client: client.id, jti: claims.jti }, 'access token revoked (RFC 7009)');
      }
      return reply.code(200).send();
    },
  );
};
