/**
 * The platform a simulation runs against, in process: the reference auth server (listening on
 * 127.0.0.1, trusting X-Forwarded-For, any user, the simulated apps' client) and SDK verifiers,
 * both on the simulation's clock, the auth server reporting through `reporter` and the verifiers
 * through `verifierReporter` (its own key and role; `reporter` when absent). Used by `npm run eval` and the
 * simulator's integration test.
 */
import type { AddressInfo } from 'node:net';
import { buildAuthServer } from '../../examples/auth-server/app.ts';
import { loadAuthConfig } from '../../examples/auth-server/config.ts';
import { Denylist, type Reporter } from '../../sdk/src/index.ts';
import type { SimClock } from './clock.ts';
import { type ApiPort, type AuthPort, httpAuth, SIM_CLIENT, sdkApis } from './ports.ts';

export interface SimulatedPlatform {
  authUrl: string;
  auth: AuthPort;
  api: ApiPort;
  /** stops the auth server (closing `reporter` with it), the verifiers' reporter and the denylist */
  close(): Promise<void>;
}

export async function startSimulatedPlatform(o: {
  reporter: Reporter;
  verifierReporter?: Reporter;
  clock: SimClock;
  tenant: string;
  /** the verifiers check DPoP proofs (`npm run eval -- --hard`: its bound clients send them) */
  dpop?: boolean;
}): Promise<SimulatedPlatform> {
  const config = loadAuthConfig({
    AUTH_HOST: '127.0.0.1',
    AUTH_PORT: '0',
    AUTH_TRUST_PROXY: 'true',
    AUTH_ALLOW_ANY_USER: 'true',
    AUTH_TENANT: o.tenant,
    AUTH_CLIENTS: `${SIM_CLIENT.id}:${SIM_CLIENT.secret}:revoke`,
    AUTH_LOG_LEVEL: 'warn',
  });
  const server = await buildAuthServer(config, { reporter: o.reporter, clock: o.clock.now });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const authUrl = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  const denylist = new Denylist();
  return {
    authUrl,
    auth: httpAuth(authUrl, SIM_CLIENT),
    api: sdkApis({
      issuer: authUrl,
      audience: config.audience,
      jwksUrl: `${authUrl}/.well-known/jwks.json`,
      reporter: o.verifierReporter ?? o.reporter,
      denylist,
      tenant: o.tenant,
      now: o.clock.now,
      ...(o.dpop === true ? { dpop: true } : {}),
    }),
    async close() {
      await server.close();
      await o.verifierReporter?.close();
      denylist.close();
    },
  };
}
