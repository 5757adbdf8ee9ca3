/**
 * Admin endpoints for tests and demos, behind the AUTH_ADMIN_TOKEN bearer (registered only when it
 * is set): rotate the signing key, inject revocation faults, read the revocation request log.
 */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { AuthContext, RevocationFaults } from '../context.ts';
import { bearerChallenge, bearerToken, httpError, secretsEqual } from '../http.ts';

const FaultsRequest = Type.Object({
  revocations: Type.Unsafe<RevocationFaults['revocations']>({
    type: 'string',
    enum: ['ok', 'unavailable', 'slow'],
  }),
  slow_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
});

export const adminRoutes: FastifyPluginAsync<{ ctx: AuthContext }> = async (app, { ctx }) => {
  app.addHook('onRequest', async (request) => {
    const token = bearerToken(request);
    if (token === undefined || !secretsEqual(token, ctx.config.adminToken)) {
      const description = 'admin endpoints need Authorization: Bearer <AUTH_ADMIN_TOKEN>';
      throw httpError(401, 'invalid_token', description, bearerChallenge('invalid_token', description));
    }
  });

  app.post('/admin/keys/rotate', async (request) => {
    const key = await ctx.keys.rotate();
    request.log.info({ kid: key.kid, alg: key.alg }, 'signing key rotated (admin)');
    return { kid: key.kid, alg: key.alg, jwks_kids: ctx.keys.jwks().keys.map((k) => k.kid) };
  });

  app.post<{ Body: Static<typeof FaultsRequest> }>(
    '/admin/faults',
    { schema: { body: FaultsRequest } },
    async (request) => {
      ctx.faults.revocations = request.body.revocations;
      ctx.faults.slowMs = request.body.slow_ms ?? 2000;
      request.log.warn({ faults: ctx.faults }, 'revocation faults set (admin)');
      return { revocations: ctx.faults.revocations, slow_ms: ctx.faults.slowMs };
    },
  );

  app.get('/admin/revocations', async () => ({ revocations: ctx.revocationLog }));
};
