/**
 * GET /v1/revocations: the revocation notices still in force, after a cursor, in cursor order — for
 * verifiers that keep a denylist without Kafka (the SDK's HTTP poller). Each notice is the Kafka
 * topic's JSON plus its `seq`.
 *
 * Authenticated by an event-writing key (TOKENWATCH_API_KEYS: every verifier holds one already; it
 * reads its own tenant's notices) or by a read key (TOKENWATCH_READ_API_KEYS; `*` reads every
 * tenant). Unlike detections, notices tell a tenant nothing its auth server does not already know.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { ApiKeys } from '../../platform/http/api-keys.ts';
import { httpError } from '../../platform/http/http-error.ts';
import { readNotices } from '../../response/notices/clickhouse-notices.ts';

export interface RevocationsRouteOptions {
  clickhouse: ClickHouseClient;
  database: string;
  /** event-writing keys: their own tenant only */
  writeKeys: ApiKeys;
  /** read keys: their tenant, or every tenant for `*` */
  readKeys: ApiKeys;
}

const Query = Type.Object(
  {
    after: Type.Optional(
      Type.String({
        description:
          'seq cursor: only notices with a larger seq (the previous answer’s next_after, minus an overlap); default 0: every notice still in force',
      }),
    ),
    limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 }),
    tenant: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);

function afterParam(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const after = /^\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(after))
    throw httpError(
      400,
      'invalid_after',
      `after must be a seq cursor: a non-negative integer up to ${Number.MAX_SAFE_INTEGER} (the next_after ` +
        `of the previous answer; 0 or none for every notice in force); got ${JSON.stringify(raw)}`,
    );
  return after;
}

export const revocationsRoute: FastifyPluginAsync<RevocationsRouteOptions> = async (app, opts) => {
  app.get<{ Querystring: Static<typeof Query> }>(
    '/v1/revocations',
    { schema: { querystring: Query } },
    async (request, reply) => {
      // Answers change with every revocation, and each names who was revoked: never cached.
      reply.header('cache-control', 'no-store');
      const readTenant = opts.readKeys.authenticate(request.headers);
      const keyTenant = readTenant ?? opts.writeKeys.authenticate(request.headers);
      if (keyTenant === undefined) {
        reply.header('www-authenticate', 'Bearer realm="tokenwatch"');
        throw httpError(
          401,
          'unauthorized',
          opts.readKeys.size + opts.writeKeys.size === 0
            ? 'no API keys are configured (TOKENWATCH_API_KEYS, TOKENWATCH_READ_API_KEYS); revocation notices cannot be read over HTTP'
            : "send your tenant's event API key (TOKENWATCH_API_KEYS) or a read key (TOKENWATCH_READ_API_KEYS) " +
                'as Authorization: Bearer <key> or X-Api-Key',
        );
      }
      const q = request.query;
      // A write key's tenant is taken literally: only a read key's `*` means every tenant.
      const readsAll = readTenant === '*';
      if (!readsAll && q.tenant !== undefined && q.tenant !== keyTenant)
        throw httpError(403, 'forbidden', `this key reads tenant ${JSON.stringify(keyTenant)} only`);
      const after = afterParam(q.after);

      const rows = await readNotices(opts.clickhouse, opts.database, {
        tenant: readsAll ? q.tenant : keyTenant,
        after,
        nowMs: Date.now(),
        limit: q.limit + 1,
      });
      const notices = rows.slice(0, q.limit);
      return {
        notices,
        next_after: notices.at(-1)?.seq ?? after,
        more: rows.length > q.limit,
      };
    },
  );
};
