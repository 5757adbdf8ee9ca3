/** Operations: GET /healthz (the process serves), GET /readyz (dependencies answer, nothing waits too long to be stored). */
import type { FastifyPluginAsync } from 'fastify';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<boolean> | boolean;
}

export interface OpsRoutesOptions {
  checks: ReadinessCheck[];
}

export const opsRoutes: FastifyPluginAsync<OpsRoutesOptions> = async (app, { checks }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
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
  });
};
