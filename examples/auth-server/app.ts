/**
 * The reference auth server as a fastify instance (not listening): keys, tokens, state, the
 * reporter to tokenwatch, the routes, and the timers for key rotation and pruning.
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { createAuthEvents, createHttpReporter, type Reporter, type SdkLogger } from '../../sdk/src/index.ts';
import { createKafkaReporter } from '../../sdk/src/kafka.ts';
import type { AuthConfig } from './config.ts';
import type { AuthContext } from './context.ts';
import { handleError, httpError } from './http.ts';
import { KeyRing } from './keys.ts';
import { adminRoutes } from './routes/admin.ts';
import { discoveryRoutes } from './routes/discovery.ts';
import { meRoute } from './routes/me.ts';
import { revocationsRoute } from './routes/revocations.ts';
import { revokeRoute } from './routes/revoke.ts';
import { tokenRoute } from './routes/token.ts';
import { AuthStore } from './store.ts';
import { AccessTokens } from './tokens.ts';

export interface AuthServerDeps {
  /** where events go (default: from AUTH_TOKENWATCH_KAFKA_BROKERS or AUTH_TOKENWATCH_URL); closed with the server */
  reporter?: Reporter;
  /**
   * the clock (epoch ms) of token times, expiries and event times (default Date.now): the traffic
   * simulator runs the server in process on a simulated clock to play a day in minutes
   */
  clock?: () => number;
}

/** Reports nothing: no tokenwatch is configured. */
const nowhere: Reporter = {
  report: () => undefined,
  flush: async () => undefined,
  close: async () => undefined,
  stats: () => ({
    reported: 0,
    queued: 0,
    sent: 0,
    dropped: { queue_full: 0, refused: 0, closed: 0 },
    sendFailures: 0,
  }),
};

/** The SDK reporter the configuration asks for: Kafka, HTTP, or none. */
function configuredReporter(config: AuthConfig, logger: SdkLogger): Reporter {
  if (config.tokenwatchKafkaBrokers.length > 0)
    return createKafkaReporter({
      brokers: config.tokenwatchKafkaBrokers,
      clientId: 'tokenwatch-auth-server',
      topic: config.tokenwatchKafkaTopic,
      logger,
    });
  if (config.tokenwatchUrl !== '')
    return createHttpReporter({ url: config.tokenwatchUrl, apiKey: config.tokenwatchApiKey, logger });
  return nowhere;
}

const PRUNE_INTERVAL_MS = 60_000;

/** `http://<host>:<port>` of a listening server (a wildcard host as 127.0.0.1). */
export function listeningUrl(app: FastifyInstance, host: string): string {
  const address = app.server.address() as AddressInfo | null;
  if (address === null) {
    throw new Error(
      'AUTH_ISSUER is unset and the server is not listening yet: set AUTH_ISSUER or listen() first',
    );
  }
  const name = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${name.includes(':') ? `[${name}]` : name}:${address.port}`;
}

export async function buildAuthServer(
  config: AuthConfig,
  deps: AuthServerDeps = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: config.logLevel, base: { service: 'auth-server' } },
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: config.trustProxy,
  });
  const reporter = deps.reporter ?? configuredReporter(config, app.log.child({ component: 'reporter' }));
  const issuer = () => config.issuer ?? listeningUrl(app, config.host);
  const clock = deps.clock ?? Date.now;
  const keys = await KeyRing.create(config.signingAlg, config.keyOverlapSeconds);
  const ctx: AuthContext = {
    config,
    keys,
    tokens: new AccessTokens(keys, issuer, config.audience, config.accessTtlSeconds, clock),
    store: new AuthStore(config.accessTtlSeconds, config.refreshTtlSeconds, clock),
    events: createAuthEvents({ reporter, tenant: config.tenant, source: config.source, now: clock }),
    faults: { revocations: 'ok', slowMs: 0 },
    revocationLog: [],
  };

  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    },
  );
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request) => {
    throw httpError(404, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}`);
  });
  await app.register(discoveryRoutes, { ctx, issuer });
  await app.register(tokenRoute, { ctx });
  await app.register(revokeRoute, { ctx });
  await app.register(revocationsRoute, { ctx });
  await app.register(meRoute, { ctx });
  if (config.adminToken !== '') await app.register(adminRoutes, { ctx });

  const timers = [setInterval(() => ctx.store.prune(), PRUNE_INTERVAL_MS).unref()];
  if (config.keyRotationSeconds > 0) {
    const rotate = () =>
      keys.rotate().then(
        (key) =>
          app.log.info({ kid: key.kid, alg: key.alg }, 'signing key rotated (AUTH_KEY_ROTATION_SECONDS)'),
        (err: Error) => app.log.error({ err }, 'signing key rotation failed; the current key stays in use'),
      );
    timers.push(setInterval(rotate, config.keyRotationSeconds * 1000).unref());
  }
  app.addHook('onClose', async () => {
    for (const timer of timers) clearInterval(timer);
    await reporter.close();
  });
  return app;
}
