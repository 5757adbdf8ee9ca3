/**
 * GET /v1/revocations: the revocation notices still in force, after a cursor, in cursor order — for
 * verifiers that keep a denylist without Kafka (the SDK's HTTP poller). Each notice is the Kafka
 * topic's JSON plus its `seq`.
 *
 * Authenticated by a denylist key (TOKENWATCH_DENYLIST_API_KEYS: this route only, and answered
 * with notices v2 whose ids are hashed, so a verifier's key names nobody), an event-writing key
 * (TOKENWATCH_API_KEYS: its own tenant's notices) or a read key (TOKENWATCH_READ_API_KEYS; `*`
 * reads every tenant). Event and read keys get notices v1 unless they ask for `ids=sha256`.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { RevocationNotice } from '../../contract/revocation-notice-v1.ts';
import { HashedRevocationNotice, hashedNotice } from '../../contract/revocation-notice-v2.ts';
import type { ApiKeys } from '../../platform/http/api-keys.ts';
import { ErrorBody, httpError } from '../../platform/http/errors.ts';
import { tenantAuth } from '../../platform/http/tenant-auth.ts';
import { readNotices } from '../../response/notices/clickhouse-notices.ts';

export interface RevocationsRouteOptions {
  clickhouse: ClickHouseClient;
  database: string;
  /** event-writing keys: their own tenant only */
  writeKeys: ApiKeys;
  /** read keys: their tenant, or every tenant for `*` */
  readKeys: ApiKeys;
  /** denylist keys: notices v2 only (hashed ids); their tenant, or every tenant for `*` */
  denylistKeys: ApiKeys;
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
    ids: Type.Optional(
      Type.Union([Type.Literal('raw'), Type.Literal('sha256')], {
        description:
          '`sha256`: notices v2, ids hashed (what a denylist key always gets); `raw` (default for event and read keys): notices v1',
      }),
    ),
  },
  { additionalProperties: false },
);

function afterParam(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const after = /^\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(after))
    throw httpError(
      'invalid_after',
      `after must be a seq cursor: a non-negative integer up to ${Number.MAX_SAFE_INTEGER} (the next_after ` +
        `of the previous answer; 0 or none for every notice in force); got ${JSON.stringify(raw)}`,
    );
  return after;
}

const Answer = Type.Object({
  notices: Type.Array(
    Type.Union([
      Type.Composite([
        Type.Object({ seq: Type.Integer({ description: 'the polling cursor' }) }),
        RevocationNotice,
      ]),
      Type.Composite([
        Type.Object({ seq: Type.Integer({ description: 'the polling cursor' }) }),
        HashedRevocationNotice,
      ]),
    ]),
  ),
  next_after: Type.Integer({ description: 'the `after` of the next poll (minus an overlap)' }),
  more: Type.Boolean({ description: 'more notices wait: poll again at once' }),
});

export const revocationsRoute: FastifyPluginAsync<RevocationsRouteOptions> = async (app, opts) => {
  // Answers change with every revocation, and each names who was revoked: never cached (refusals too).
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });
  app.addHook(
    'onRequest',
    tenantAuth(
      [
        { kind: 'denylist', keys: opts.denylistKeys, env: 'TOKENWATCH_DENYLIST_API_KEYS' },
        { kind: 'read', keys: opts.readKeys, env: 'TOKENWATCH_READ_API_KEYS' },
        { kind: 'event', keys: opts.writeKeys, env: 'TOKENWATCH_API_KEYS' },
      ],
      'GET /v1/revocations',
    ),
  );
  app.get<{ Querystring: Static<typeof Query> }>(
    '/v1/revocations',
    {
      schema: {
        summary: 'the revocation notices still in force, after a cursor',
        security: [{ bearer: [] }, { apiKey: [] }],
        querystring: Query,
        response: { 200: Answer, '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request) => {
      const { tenant: keyTenant, kind } = request.auth!;
      const q = request.query;
      // A write key's tenant is taken literally: only a read or denylist key's `*` means every tenant.
      const readsAll = kind !== 'event' && keyTenant === '*';
      if (kind === 'denylist' && q.ids === 'raw')
        throw httpError('forbidden', 'a denylist key reads notices with hashed ids only (ids=sha256)');
      const hashed = kind === 'denylist' || q.ids === 'sha256';
      if (!readsAll && q.tenant !== undefined && q.tenant !== keyTenant)
        throw httpError('forbidden', `this key reads tenant ${JSON.stringify(keyTenant)} only`);
      const after = afterParam(q.after);

      const rows = await readNotices(opts.clickhouse, opts.database, {
        tenant: readsAll ? q.tenant : keyTenant,
        after,
        nowMs: Date.now(),
        limit: q.limit + 1,
      });
      const notices = rows.slice(0, q.limit);
      return {
        notices: hashed ? notices.map(({ seq, ...n }) => ({ seq, ...hashedNotice(n) })) : notices,
        next_after: notices.at(-1)?.seq ?? after,
        more: rows.length > q.limit,
      };
    },
  );
};
