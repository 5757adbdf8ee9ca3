/** A protected sample resource: GET /v1/me answers the claims of a valid, non-revoked access token. */
import type { FastifyPluginAsync } from 'fastify';
import { requireAccessToken } from '../bearer-auth.ts';
import type { AuthContext } from '../context.ts';

export const meRoute: FastifyPluginAsync<{ ctx: AuthContext }> = async (app, { ctx }) => {
  app.get('/v1/me', async (request) => {
    const claims = await requireAccessToken(request, ctx.tokens, ctx.store);
    return { subject: claims.sub, claims };
  });
};
