/**
 * GET /metrics (Prometheus). Open by default, as Prometheus expects; with TOKENWATCH_METRICS_KEY it
 * needs `Authorization: Bearer <key>` (Prometheus' `authorization` scrape setting), and with
 * TOKENWATCH_METRICS_PORT it is served on a listener of its own (an internal address) instead.
 * Every label value is from a closed set, so the page stays small whatever the input.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import { ErrorBody, httpError } from '../../platform/http/errors.ts';

export interface MetricsRouteOptions {
  registry: Registry;
  /** '' = no key needed */
  key: string;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export const metricsRoute: FastifyPluginAsync<MetricsRouteOptions> = async (app, { registry, key }) => {
  const want = key === '' ? undefined : digest(key);
  const schema = {
    summary: 'Prometheus metrics (text exposition format)',
    ...(want === undefined ? {} : { security: [{ bearer: [] }] }),
    response: { 200: Type.String(), '4xx': ErrorBody },
  };
  app.get('/metrics', { schema }, async (request, reply) => {
    if (want !== undefined) {
      const auth = request.headers.authorization ?? '';
      const given = /^bearer\s+/i.test(auth) ? auth.replace(/^bearer\s+/i, '').trim() : '';
      if (!timingSafeEqual(digest(given), want)) {
        reply.header('www-authenticate', 'Bearer realm="tokenwatch metrics"');
        throw httpError(
          'unauthorized',
          'send the metrics key (TOKENWATCH_METRICS_KEY) as Authorization: Bearer <key>',
        );
      }
    }
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
};
