/**
 * GET /v1/detections: findings with their evidence, newest first, for a time range (by the
 * misuse's event time), filtered by tenant, subject and detector. Authenticated by a read key
 * (TOKENWATCH_READ_API_KEYS): a tenant's key reads its tenant, a `*` key reads every tenant.
 * Event-writing keys cannot read: every verifier holds one.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Finding } from '../../contract/finding-v1.ts';
import { type DetectionRow, fromDetectionRow } from '../../detectors/detection.ts';
import { REGISTRY } from '../../detectors/registry.ts';
import { parseEventTime } from '../../ingest/pipeline/validate.ts';
import { queryId } from '../../platform/clickhouse/query-id.ts';
import { quoteString } from '../../platform/clickhouse/sql.ts';
import type { ApiKeys } from '../../platform/http/api-keys.ts';
import { ErrorBody, httpError } from '../../platform/http/errors.ts';
import { tenantAuth } from '../../platform/http/tenant-auth.ts';

export interface DetectionsRouteOptions {
  clickhouse: ClickHouseClient;
  database: string;
  readKeys: ApiKeys;
}

const DAY_MS = 86_400_000;

const Query = Type.Object(
  {
    from: Type.Optional(Type.String({ description: 'RFC 3339 or epoch ms; default: `to` minus 24 h' })),
    to: Type.Optional(Type.String({ description: 'RFC 3339 or epoch ms (exclusive); default: now' })),
    tenant: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    subject: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    detector: Type.Optional(Type.Union(REGISTRY.names.map((n) => Type.Literal(n)))),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
);

function timeParam(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const ms = /^\d+$/.test(raw) ? parseEventTime(Number(raw)) : parseEventTime(raw);
  if (ms === undefined)
    throw httpError(
      'invalid_time',
      `${name} must be an RFC 3339 date-time or epoch milliseconds; got ${JSON.stringify(raw)}`,
    );
  return ms;
}

const Revocation = Type.Union([
  Type.Object({
    status: Type.String({ description: 'its latest status (docs/response.md)' }),
    attempts: Type.Integer(),
    acknowledged_ms: Type.Union([Type.Integer(), Type.Null()], {
      description: 'when the auth server acknowledged it (null: not yet)',
    }),
  }),
  Type.Null(),
]);

const Answer = Type.Object({
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
  truncated: Type.Boolean({ description: 'more detections matched than `limit`' }),
  detections: Type.Array(
    Type.Composite([Finding, Type.Object({ revocation: Revocation })], {
      description: 'a finding, and where the revocation it led to stands',
    }),
  ),
});

export const detectionsRoute: FastifyPluginAsync<DetectionsRouteOptions> = async (app, opts) => {
  // Read keys only: every verifier holds an event key.
  app.addHook(
    'onRequest',
    tenantAuth(
      [{ kind: 'read', keys: opts.readKeys, env: 'TOKENWATCH_READ_API_KEYS' }],
      'GET /v1/detections',
    ),
  );
  app.get<{ Querystring: Static<typeof Query> }>(
    '/v1/detections',
    {
      schema: {
        summary: 'findings with their evidence, newest first',
        security: [{ bearer: [] }, { apiKey: [] }],
        querystring: Query,
        response: { 200: Answer, '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request) => {
      const keyTenant = request.auth!.tenant;
      const q = request.query;
      if (keyTenant !== '*' && q.tenant !== undefined && q.tenant !== keyTenant)
        throw httpError('forbidden', `this key reads tenant ${JSON.stringify(keyTenant)} only`);
      const tenant = keyTenant === '*' ? q.tenant : keyTenant;
      const to = timeParam('to', q.to, Date.now());
      const from = timeParam('from', q.from, to - DAY_MS);
      if (from >= to) throw httpError('invalid_range', `from (${from}) must be before to (${to})`);

      const where = [
        `detected_ms >= ${from}`,
        `detected_ms < ${to}`,
        `detected_time >= toDateTime(${Math.floor(from / 1000)})`,
        `detected_time <= toDateTime(${Math.ceil(to / 1000)})`,
      ];
      if (tenant !== undefined) where.push(`tenant = ${quoteString(tenant)}`);
      if (q.subject !== undefined) where.push(`subject = ${quoteString(q.subject)}`);
      if (q.detector !== undefined) where.push(`detector = ${quoteString(q.detector)}`);
      const rs = await opts.clickhouse.query({
        query_id: queryId('service/http/detections-route'),
        query: `SELECT * FROM ${opts.database}.detections FINAL
WHERE ${where.join(' AND ')}
ORDER BY detected_ms DESC, detection_id
LIMIT ${q.limit + 1}`,
        format: 'JSONEachRow',
      });
      const rows = await rs.json<DetectionRow>();
      const detections = rows.slice(0, q.limit).map(fromDetectionRow);
      const revocations = await revocationStates(
        opts.clickhouse,
        opts.database,
        detections.map((d) => d.revocation_id),
      );
      return {
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        truncated: rows.length > q.limit,
        detections: detections.map(({ jti_expires_ms: _, ...d }) => ({
          ...d,
          revocation: revocations.get(d.revocation_id) ?? null,
        })),
      };
    },
  );
};

/** Where each revocation stands now: its latest status and when the auth server acknowledged it. */
async function revocationStates(
  clickhouse: ClickHouseClient,
  database: string,
  ids: string[],
): Promise<Map<string, { status: string; attempts: number; acknowledged_ms: number | null }>> {
  const wanted = [...new Set(ids.filter((id) => id !== ''))];
  if (wanted.length === 0) return new Map();
  const rs = await clickhouse.query({
    query_id: queryId('service/http/detections-route'),
    // (aliases differ from the column names: 18.16 would read an alias inside the other aggregates)
    query: `SELECT revocation_id, argMax(status, time_ms) AS last_status, max(attempt) AS attempts,
  maxIf(time_ms, status = 'done') AS done_ms
FROM ${database}.revocations
WHERE revocation_id IN (${wanted.map(quoteString).join(', ')})
GROUP BY revocation_id`,
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{
    revocation_id: string;
    last_status: string;
    attempts: number;
    done_ms: string;
  }>();
  return new Map(
    rows.map((r) => [
      r.revocation_id,
      {
        status: r.last_status,
        attempts: Number(r.attempts),
        acknowledged_ms: Number(r.done_ms) > 0 ? Number(r.done_ms) : null,
      },
    ]),
  );
}
