/**
 * A sample resource server ("orders API") as tokenwatch's users build one with the SDK: fastify with
 * the SDK's plugin, verifying the reference auth server's access tokens through its JWKS, reporting
 * every verification to tokenwatch, refusing what the denylist holds. Used by the demo and the SDK's
 * end-to-end tests. Listens on 127.0.0.1 and trusts X-Forwarded-For from there (the demo's and the
 * tests' clients play users at any address).
 */
import Fastify from 'fastify';
import { tokenwatchPlugin } from '../../sdk/src/fastify.ts';
import { createVerifier, type Denylist, type Reporter } from '../../sdk/src/index.ts';

export interface OrdersApi {
  url: string;
  /** GET /orders with the token, as a client at `ip` */
  call(
    token: string,
    ip: string,
    device?: string,
    userAgent?: string,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startOrdersApi(o: {
  authUrl: string;
  reporter: Reporter;
  denylist?: Denylist;
  tenant: string;
  source: string;
  /** default: any free port */
  port?: number;
}): Promise<OrdersApi> {
  const verifier = createVerifier({
    issuer: o.authUrl,
    audience: 'tokenwatch-demo-api',
    jwksUrl: `${o.authUrl}/.well-known/jwks.json`,
    algorithms: ['EdDSA'],
    typ: 'at+jwt',
    reporter: o.reporter,
    tenant: o.tenant,
    source: o.source,
    ...(o.denylist === undefined ? {} : { denylist: o.denylist }),
  });
  const app = Fastify({ trustProxy: '127.0.0.1' });
  await app.register(tokenwatchPlugin, { verifier });
  app.get('/orders', async (request) => ({ subject: request.tokenClaims?.sub, orders: [] }));
  const url = await app.listen({ host: '127.0.0.1', port: o.port ?? 0 });
  return {
    url,
    async call(token, ip, device = 'laptop', userAgent = 'Mozilla/5.0') {
      const res = await fetch(`${url}/orders`, {
        headers: {
          authorization: `Bearer ${token}`,
          'x-forwarded-for': ip,
          'user-agent': userAgent,
          ...(device === '' ? {} : { 'x-device-id': device }),
        },
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    close: () => app.close(),
  };
}
