/**
 * The revocation API tokenwatch calls: POST /v1/revocations with a target (jti, family, session,
 * subject), authenticated by AUTH_REVOCATION_TOKEN or a client-credentials token with scope
 * `revoke`, idempotent by the Idempotency-Key header. Every request is written to the revocation
 * log (GET /admin/revocations); injected faults (POST /admin/faults) apply before anything else.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { RevocationRequest } from '../../../contract/revocation-api-v1.ts';
import { requireAccessToken } from '../bearer-auth.ts';
import type { AuthContext, RevocationLogEntry } from '../context.ts';
import { bearerChallenge, bearerToken, httpError, secretsEqual } from '../http.ts';

const MAX_LOG_ENTRIES = 10_000;
const MAX_IDEMPOTENCY_KEY_LENGTH = 200;
const REVOKE_SCOPE = 'revoke';

/**
 * What an Idempotency-Key stands for: the revocation's identity (tenant, target, id), not the whole
 * body — a retry after a restart may carry a longer `access_jtis` list or another `reason` and is
 * still the same revocation.
 */
function fingerprint(body: { tenant?: string | undefined; target: string; id: string }): string {
  return JSON.stringify([body.tenant ?? '', body.target, body.id]);
}

export const revocationsRoute: FastifyPluginAsync<{ ctx: AuthContext }> = async (app, { ctx }) => {
  const { config, store, tokens, events } = ctx;
  const logEntries = new WeakMap<FastifyRequest, RevocationLogEntry>();

  const authorize = async (request: FastifyRequest): Promise<void> => {
    const token = bearerToken(request);
    if (token !== undefined && config.revocationToken !== '' && secretsEqual(token, config.revocationToken)) {
      return;
    }
    const claims = await requireAccessToken(request, tokens, store, 'invalid_token');
    if (!claims.scope.split(' ').includes(REVOKE_SCOPE)) {
      const description = `the token of ${claims.sub} lacks scope ${REVOKE_SCOPE}: get one with grant_type=client_credentials`;
      throw httpError(
        403,
        'insufficient_scope',
        description,
        bearerChallenge('insufficient_scope', description),
      );
    }
  };

  app.addHook('onRequest', async (request, reply) => {
    const key = request.headers['idempotency-key'];
    const entry: RevocationLogEntry = {
      received_at_ms: ctx.store.clock(),
      idempotency_key: typeof key === 'string' ? key : null,
      target: null,
      id: null,
      status_code: 0,
      replayed: false,
    };
    ctx.revocationLog.push(entry);
    if (ctx.revocationLog.length > MAX_LOG_ENTRIES) ctx.revocationLog.shift();
    logEntries.set(request, entry);
    if (ctx.faults.revocations === 'slow') await sleep(ctx.faults.slowMs);
    if (ctx.faults.revocations === 'unavailable') {
      return reply.code(503).header('retry-after', '1').send({
        error: 'temporarily_unavailable',
        error_description: 'revocations are unavailable (fault injected through POST /admin/faults); retry',
      });
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    const entry = logEntries.get(request);
    if (entry === undefined) return;
    const body = request.body as Partial<RevocationRequest> | undefined;
    entry.target = typeof body?.target === 'string' ? body.target : null;
    entry.id = typeof body?.id === 'string' ? body.id : null;
    entry.status_code = reply.statusCode;
    entry.replayed = reply.getHeader('idempotent-replayed') === 'true';
  });

  app.post<{ Body: RevocationRequest }>(
    '/v1/revocations',
    // Authentication comes before the body is read: without it a request learns nothing.
    { schema: { body: RevocationRequest }, onRequest: authorize },
    async (request, reply) => {
      const body = request.body;
      const key = request.headers['idempotency-key'];
      if (typeof key !== 'string' || key === '' || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
        throw httpError(
          400,
          'invalid_request',
          `the Idempotency-Key header is required (1-${MAX_IDEMPOTENCY_KEY_LENGTH} characters; the same key for retries of one revocation)`,
        );
      }
      const print = fingerprint(body);
      const previous = store.idempotency.get(key);
      if (previous !== undefined) {
        if (previous.fingerprint !== print) {
          throw httpError(
            422,
            'idempotency_key_reused',
            `Idempotency-Key ${JSON.stringify(key)} was used before for another revocation (tenant, target or id differ); use a new key for a new revocation`,
          );
        }
        return reply.code(previous.statusCode).header('idempotent-replayed', 'true').send(previous.body);
      }
      if (body.tenant !== undefined && body.tenant !== config.tenant) {
        throw httpError(
          400,
          'invalid_request',
          `tenant ${JSON.stringify(body.tenant)} is not served here: this auth server is tenant ${JSON.stringify(config.tenant)} (AUTH_TENANT)`,
        );
      }

      const outcome = store.revoke({
        target: body.target,
        id: body.id,
        ...(body.expires_at === undefined ? {} : { expiresAtMs: Date.parse(body.expires_at) }),
        accessJtis: (body.access_jtis ?? []).map(({ jti, expires_at }) => ({
          jti,
          expMs: Date.parse(expires_at),
        })),
      });
      const now = new Date(ctx.store.clock());
      const [statusCode, responseBody] =
        outcome === undefined
          ? [
              404,
              {
                error: 'not_found',
                error_description: `no ${body.target} ${JSON.stringify(body.id)} was ever issued here`,
              },
            ]
          : [
              200,
              {
                status: outcome.revokedNow ? 'revoked' : 'already_revoked',
                target: body.target,
                id: body.id,
                revoked_at: now.toISOString(),
                access_jtis_denied: outcome.accessJtisDenied,
                access_jtis_ignored: outcome.accessJtisIgnored,
              },
            ];
      store.idempotency.set(key, { fingerprint: print, statusCode, body: responseBody, atMs: now.getTime() });

      if (outcome?.revokedNow) {
        const { target, id } = body;
        events.reportRevocation({
          subject: target === 'subject' ? id : (outcome.subject ?? body.subject ?? ''),
          ...(target === 'subject'
            ? {}
            : { clientId: outcome.clientId, sessionId: target === 'session' ? id : outcome.sessionId }),
          ...(target === 'family' ? { familyId: id } : {}),
          ...(target === 'jti' ? { jti: id } : {}),
          reason: body.detector === undefined ? 'revocation_api' : `tokenwatch:${body.detector}`,
        });
      }
      request.log.info(
        {
          target: body.target,
          id: body.id,
          status: statusCode,
          detection_id: body.detection_id,
          detector: body.detector,
          severity: body.severity,
        },
        outcome === undefined ? 'revocation of an unknown target' : 'revocation applied',
      );
      return reply.code(statusCode).send(responseBody);
    },
  );
};
