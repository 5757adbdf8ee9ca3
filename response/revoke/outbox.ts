/**
 * The `revocations` table as the response stage's durable outbox and audit log: a decision is
 * stored (`pending`) before the auth API is called, every attempt appends a row, and on start the
 * latest row of each target says what is done and what to resume. It also finds the access
 * tokens linked to a family or session (their `access_jti`s in the stored events).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { RevocationTarget } from '../../contract/revocation-api-v1.ts';
import { insertJsonRows } from '../../platform/clickhouse/json-rows.ts';
import type { RefusedRowSink } from '../../platform/clickhouse/refusals.ts';
import { quoteString } from '../../platform/clickhouse/sql.ts';
import type { RevocationRow, RevocationStatus } from '../revocation.ts';

export {
  FINAL_STATUSES,
  OPEN_STATUSES,
  REVOCATION_STATUSES,
  type RevocationRow,
  type RevocationStatus,
} from '../revocation.ts';

import { queryId } from '../../platform/clickhouse/query-id.ts';

const toInsert = (r: RevocationRow) => ({ ...r, time: Math.floor(r.time_ms / 1000) });

export class RevocationLog {
  private readonly client: ClickHouseClient;
  private readonly database: string;
  private readonly refused: RefusedRowSink;

  constructor(client: ClickHouseClient, database: string, refused: RefusedRowSink) {
    this.client = client;
    this.database = database;
    this.refused = refused;
  }

  /** Rows ClickHouse refuses are dead-lettered (never retried forever); other failures are thrown. */
  async append(rows: RevocationRow[]): Promise<void> {
    await insertJsonRows({
      client: this.client,
      table: `${this.database}.revocations`,
      rows: rows.map(toInsert),
      refused: this.refused,
      by: 'response/revoke/outbox',
    });
  }

  /** The latest row of every target decided in the last `days` days (the first row's fields kept). */
  async latest(days: number): Promise<RevocationRow[]> {
    const rs = await this.client.query({
      query_id: queryId('response/revoke/outbox'),
      query: latestRevocationsSql(this.database, days),
      format: 'JSONEachRow',
    });
    const rows = await rs.json<Record<string, string | number>>();
    return rows.map((r) => ({
      revocation_id: String(r['revocation_id']),
      tenant: String(r['tenant']),
      subject: String(r['subject']),
      target_kind: String(r['target_kind']) as RevocationTarget,
      target_id: String(r['target_id']),
      status: String(r['status']) as RevocationStatus,
      attempt: Number(r['attempt']),
      http_status: Number(r['http_status']),
      latency_ms: Number(r['latency_ms']),
      error: String(r['error']),
      detection_id: String(r['detection_id']),
      detector: String(r['detector']),
      severity: String(r['severity']),
      reason: String(r['reason']),
      expires_ms: Number(r['expires_ms']),
      detected_ms: Number(r['detected_ms']),
      decided_ms: Number(r['decided_ms']),
      time_ms: Number(r['last_ms']),
    }));
  }

  /**
   * Access tokens issued with a family or session (the auth server's refresh/issuance events' `access_jti`) since
   * `sinceMs`, each with its `exp` where a verifier or the issuance reported one (0 otherwise).
   */
  async linkedAccessTokens(
    tenant: string,
    subject: string,
    target: 'family' | 'session',
    id: string,
    sinceMs: number,
  ): Promise<{ jti: string; issued_ms: number; exp_s: number }[]> {
    const rs = await this.client.query({
      query_id: queryId('response/revoke/outbox'),
      query: linkedAccessTokensSql(this.database, { tenant, subject, target, id, sinceMs }),
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ jti: string; issued_ms: string | number; exp_s: string | number }>();
    return rows.map((r) => ({ jti: r.jti, issued_ms: Number(r.issued_ms), exp_s: Number(r.exp_s) }));
  }
}

export function latestRevocationsSql(database: string, days: number): string {
  return `
SELECT
  revocation_id,
  argMin(tenant, time_ms) AS tenant,
  argMin(subject, time_ms) AS subject,
  argMin(target_kind, time_ms) AS target_kind,
  argMin(target_id, time_ms) AS target_id,
  argMax(status, time_ms) AS status,
  argMax(attempt, time_ms) AS attempt,
  argMax(http_status, time_ms) AS http_status,
  argMax(latency_ms, time_ms) AS latency_ms,
  argMax(error, time_ms) AS error,
  argMin(detection_id, time_ms) AS detection_id,
  argMin(detector, time_ms) AS detector,
  argMin(severity, time_ms) AS severity,
  argMin(reason, time_ms) AS reason,
  argMin(expires_ms, time_ms) AS expires_ms,
  argMin(detected_ms, time_ms) AS detected_ms,
  argMin(decided_ms, time_ms) AS decided_ms,
  max(time_ms) AS last_ms
FROM ${database}.revocations
WHERE time >= now() - ${Math.ceil(days * 86_400)}
GROUP BY revocation_id`;
}

/**
 * One query (runs on 18.16, which needs ANY/ALL on a join, and on current ClickHouse): the
 * `access_jti`s issued with the family or session — only as the auth server reported them (issuance
 * and refresh events of an auth-server key, or of one without a role: a verifier cannot link a
 * token to someone else's family) — each with the largest `exp` any event reported
 * for it (verifications, issuance, rotations; 0 — the join's default — when none did).
 */
export function linkedAccessTokensSql(
  database: string,
  q: { tenant: string; subject: string; target: 'family' | 'session'; id: string; sinceMs: number },
): string {
  const column = q.target === 'family' ? 'family_id' : 'session_id';
  const where = `tenant = ${quoteString(q.tenant)} AND subject = ${quoteString(q.subject)} AND time >= ${Math.floor(q.sinceMs / 1000)}`;
  return `
SELECT jti, issued_ms, exp_s
FROM
(
  SELECT access_jti AS jti, max(time_ms) AS issued_ms
  FROM ${database}.events
  WHERE ${where} AND ${column} = ${quoteString(q.id)} AND access_jti != ''
    AND type IN ('issuance', 'refresh') AND reporter_role != 'verifier'
  GROUP BY access_jti
  LIMIT 1000
) AS linked
ANY LEFT JOIN
(
  SELECT jti, max(exp) AS exp_s
  FROM ${database}.events
  WHERE ${where} AND jti != '' AND exp > 0
  GROUP BY jti
) AS exps USING jti`;
}
