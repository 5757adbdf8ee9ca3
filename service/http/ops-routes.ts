/** Operations: GET /healthz (the process serves), GET /readyz (dependencies answer, nothing waits too long to be stored). */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<boolean> | boolean;
}

export interface OpsRoutesOptions {
  checks: ReadinessCheck[];
}

export const opsRoutes: FastifyPluginAsync<OpsRoutesOptions> = async (app, { checks }) => {
  const Health = Type.Object({ status: Type.Literal('ok') });
  const Readiness = Type.Object({
    status: Type.Union([Type.Literal('ready'), Type.Literal('not ready')]),
    checks: Type.Record(Type.String(), Type.Boolean(), {
      description: 'each dependency: clickhouse, migrations, storage, kafka, detectors',
    }),
  });
  app.get('/healthz', { schema: { summary: 'the process serves', response: { 200: Health } } }, async () => ({
    status: 'ok' as const,
  }));

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'every dependency answers and nothing waits too long to be stored',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const results: Record<string, boolean> = {};
      await Promise.all(
        checks.map(async ({ name, check }) => {
          results[name] = await Promise.resolve()
            .then(check)
            .catch(() => false);
        }),
      );
      const ready = Object.values(results).every(Boolean);
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks: results });
    },
  );
};
