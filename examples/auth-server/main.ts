/**
 * CLI entry: `node examples/auth-server/main.ts`. Reads AUTH_* from the environment, listens, logs one JSON
 * line 'auth server listening' with the `url` (so a parent process can read the port of
 * AUTH_PORT=0), and on SIGTERM/SIGINT closes the server and flushes the events for tokenwatch.
 */
import type { FastifyInstance } from 'fastify';
import { type AuthServerDeps, buildAuthServer, listeningUrl } from './app.ts';
import { type AuthConfig, AuthConfigError, loadAuthConfig } from './config.ts';

export interface RunningAuthServer {
  app: FastifyInstance;
  /** base URL, e.g. http://127.0.0.1:8090 */
  url: string;
}

/** Builds the server and listens on AUTH_HOST:AUTH_PORT. */
export async function startAuthServer(config: AuthConfig, deps?: AuthServerDeps): Promise<RunningAuthServer> {
  const app = await buildAuthServer(config, deps);
  await app.listen({ host: config.host, port: config.port });
  const url = listeningUrl(app, config.host);
  app.log.info(
    {
      url,
      issuer: config.issuer ?? url,
      alg: config.signingAlg,
      reuse_detection: config.reuseDetection,
      tokenwatch: config.tokenwatchUrl || 'off',
    },
    'auth server listening',
  );
  return { app, url };
}

async function main(): Promise<void> {
  let config: AuthConfig;
  try {
    config = loadAuthConfig();
  } catch (err) {
    if (!(err instanceof AuthConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 2;
    return;
  }
  const { app } = await startAuthServer(config).catch((err: Error) => {
    process.stderr.write(
      `auth server could not start on ${config.host}:${config.port}: ${err.message} (check AUTH_HOST / AUTH_PORT)\n`,
    );
    process.exit(1);
  });
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: closing HTTP, flushing events for tokenwatch');
    app.close().then(
      () => app.log.info('shut down cleanly'),
      (err: Error) => {
        app.log.error({ err }, 'shutdown failed');
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

if (import.meta.main) await main();
