/** Discovery: the public keys (GET /.well-known/jwks.json) and minimal OpenID provider metadata. */
import type { FastifyPluginAsync } from 'fastify';
import type { AuthContext } from '../context.ts';

export interface DiscoveryRoutesOptions {
  ctx: AuthContext;
  issuer: () => string;
}

export const discoveryRoutes: FastifyPluginAsync<DiscoveryRoutesOptions> = async (app, { ctx, issuer }) => {
  app.get('/.well-known/jwks.json', async (_request, reply) => {
    // Short caching: a rotated key must reach verifiers well within the overlap window.
    reply.header('cache-control', 'public, max-age=60');
    return ctx.keys.jwks();
  });

  app.get('/.well-known/openid-configuration', async () => {
    const base = issuer();
    return {
      issuer: base,
      jwks_uri: `${base}/.well-known/jwks.json`,
      token_endpoint: `${base}/oauth/token`,
      revocation_endpoint: `${base}/oauth/revoke`,
      grant_types_supported: ['password', 'refresh_token', 'client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    };
  });
};
