/**
 * The HTTP API, built but not listening: the fastify server with its timeouts, one error answer for
 * every route (platform/http/errors.ts), the OpenAPI document generated from the routes' schemas
 * (GET /openapi.json), and the routes — each an encapsulated plugin that says which keys it takes.
 * service/start.ts listens; tests inject.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../../ingest/metrics.ts';
import type { Stage } from '../../ingest/pipeline/stage.ts';
import type { IngestSettings } from '../../ingest/settings.ts';
import { eventsRoute } from '../../ingest/sources/http/events-route.ts';
import type { Intake } from '../../ingest/sources/http/intake.ts';
import { TenantQuota } from '../../ingest/sources/http/tenant-quota.ts';
import pkg from '../../package.json' with { type: 'json' };
import { ApiKeys } from '../../platform/http/api-keys.ts';
import { answerErrors } from '../../platform/http/errors.ts';
import type { ServiceSettings } from '../settings.ts';
import { detectionsRoute } from './detections-route.ts';
import { metricsRoute } from './metrics-route.ts';
import { opsRoutes, type ReadinessCheck } from './ops-routes.ts';
import { revocationsRoute } from './revocations-route.ts';

export interface HttpApiDeps {
  service: ServiceSettings;
  ingest: Pick<IngestSettings, 'door' | 'limits'>;
  log: Logger;
  stage: Stage;
  intake: Intake;
  metrics: Metrics;
  checks: ReadinessCheck[];
  clickhouse: ClickHouseClient;
  database: string;
}

export interface HttpApi {
  app: FastifyInstance;
  /** /metrics on a listener of its own (TOKENWATCH_METRICS_PORT), else undefined */
  metricsApp: FastifyInstance | undefined;
  /** from now on answers close their connection (keep-alive clients do not hold the exit) */
  shuttingDown(): void;
}

const OPENAPI = {
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'tokenwatch',
      version: pkg.version,
      description:
        'Token events in, findings and revocation notices out. Errors are `{ error, message }` with a stable code (docs/errors.md).',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http' as const, scheme: 'bearer' },
        apiKey: { type: 'apiKey' as const, in: 'header' as const, name: 'x-api-key' },
      },
    },
  },
};

export async function buildHttpApi(d: HttpApiDeps): Promise<HttpApi> {
  const s = d.service;
  const door = d.ingest.door;
  const app = Fastify({
    // (pino's Logger is a FastifyBaseLogger; the cast keeps the instance's type the plain one)
    loggerInstance: d.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: s.trustProxy,
    // A trickled body or an idle socket cannot hold a connection (or the shutdown) for long.
    requestTimeout: s.requestTimeoutMs,
    connectionTimeout: s.connectionTimeoutMs,
    keepAliveTimeout: s.keepAliveTimeoutMs,
    // Node checks the request timeout only every connectionsCheckingInterval (30 s by default).
    http: { headersTimeout: Math.min(s.requestTimeoutMs, 60_000), connectionsCheckingInterval: 1000 },
  });
  let closing = false;
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  answerErrors(app);
  await app.register(swagger, OPENAPI);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(opsRoutes, { checks: d.checks });
  const metricsApp = s.metricsPort === 0 ? undefined : Fastify({ logger: false });
  if (metricsApp === undefined)
    await app.register(metricsRoute, { registry: d.metrics.registry, key: s.metricsKey });
  else {
    answerErrors(metricsApp);
    await metricsApp.register(metricsRoute, { registry: d.metrics.registry, key: s.metricsKey });
  }

  const apiKeys = new ApiKeys(s.apiKeys);
  if (apiKeys.size === 0)
    d.log.warn('TOKENWATCH_API_KEYS is empty: POST /v1/events refuses every request (no anonymous writes)');
  d.metrics.apiKeysWithoutRole.set(apiKeys.withoutRole);
  if (apiKeys.withoutRole > 0)
    d.log.warn(
      { keys_without_role: apiKeys.withoutRole },
      `${apiKeys.withoutRole} TOKENWATCH_API_KEYS entries have no role: they may report every event type, as the auth server does. ` +
        'Give each key its role — tenant:key:verifier for verifiers, tenant:key:auth-server for the auth server (docs/contract.md, "Reporter roles")',
    );
  await app.register(eventsRoute, {
    stage: d.stage,
    intake: d.intake,
    apiKeys,
    metrics: d.metrics,
    bodyLimit: d.ingest.limits.httpBodyBytes,
    maxEvents: door.maxEventsPerRequest,
    eventQuota: new TenantQuota({
      perSecond: door.tenantEventsPerSecond,
      burstSeconds: door.tenantBurstSeconds,
      minCapacity: door.maxEventsPerRequest,
    }),
    byteQuota: new TenantQuota({
      perSecond: door.tenantBytesPerSecond,
      burstSeconds: door.tenantBurstSeconds,
      minCapacity: d.ingest.limits.httpBodyBytes,
    }),
    maxInflating: door.maxInflating,
    requestsPerSecondPerKey: door.requestsPerSecondPerKey,
    maxEventLoopDelayMs: door.maxEventLoopDelayMs,
  });
  const readKeys = new ApiKeys(s.readApiKeys);
  await app.register(detectionsRoute, { clickhouse: d.clickhouse, database: d.database, readKeys });
  await app.register(revocationsRoute, {
    clickhouse: d.clickhouse,
    database: d.database,
    writeKeys: apiKeys,
    readKeys,
    denylistKeys: new ApiKeys(s.denylistApiKeys),
  });
  return {
    app,
    metricsApp,
    shuttingDown: () => {
      closing = true;
    },
  };
}
