/**
 * The `revocation_notices` table: every revocation notice, kept in ClickHouse so verifiers without
 * Kafka can poll them (GET /v1/revocations) — in both modes, beside the Kafka topic where there is one.
 *
 * Each row gets a `seq`, the polling cursor: `published_ms * 1000 + i`, `i` the notice's index in
 * its insert (at most 1000 per insert). Every insert takes a fresh millisecond, later than the last
 * one this process used, and inserts run one at a time, so within one instance a larger seq is never
 * visible before a smaller one. Instances do not coordinate: their rows interleave by clock and may
 * land out of seq order, which is why pollers re-read an overlap (docs/response.md, "GET /v1/revocations").
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { RevocationNotice } from '../../contract/revocation-notice-v1.ts';
import { insertJsonRows } from '../../platform/clickhouse/json-rows.ts';
import { queryId } from '../../platform/clickhouse/query-id.ts';
import type { RefusedRowSink } from '../../platform/clickhouse/refusals.ts';
import { quoteString } from '../../platform/clickhouse/sql.ts';
import type { RevocationTarget } from '../decide/policy.ts';
import type { NoticeSink } from './sink.ts';

/** Notices per insert: the index within an insert is seq's last three decimal digits. */
export const NOTICES_PER_INSERT = 1000;

/** Hands out one millisecond per insert: never earlier than the clock, always after the last one. */
export class NoticeClock {
  #lastMs = 0;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  next(): number {
    this.#lastMs = Math.max(this.#now(), this.#lastMs + 1);
    return this.#lastMs;
  }
}

export interface NoticeRow {
  seq: number;
  tenant: string;
  subject: string;
  target: RevocationTarget;
  id: string;
  revocation_id: string;
  /** '' unless the notice is a linked access token's */
  via_target: RevocationTarget | '';
  via_id: string;
  detection_id: string;
  detector: string;
  expires_ms: number;
  revoked_ms: number;
  published_ms: number;
  /** published, epoch s */
  time: number;
}

/** The rows of `notices`, one inserts' worth per chunk, each chunk on its own millisecond. */
export function noticeRows(notices: RevocationNotice[], clock: NoticeClock): NoticeRow[][] {
  const chunks: NoticeRow[][] = [];
  for (let start = 0; start < notices.length; start += NOTICES_PER_INSERT) {
    const ms = clock.next();
    chunks.push(
      notices.slice(start, start + NOTICES_PER_INSERT).map((n, i) => ({
        seq: ms * 1000 + i,
        tenant: n.tenant,
        subject: n.subject,
        target: n.target,
        id: n.id,
        revocation_id: n.revocation_id,
        via_target: n.via?.target ?? '',
        via_id: n.via?.id ?? '',
        detection_id: n.detection_id,
        detector: n.detector,
        expires_ms: n.expires_at_ms,
        revoked_ms: n.revoked_at_ms,
        published_ms: ms,
        time: Math.floor(ms / 1000),
      })),
    );
  }
  return chunks;
}

export class ClickHouseNotices implements NoticeSink {
  readonly sink = 'revocation_notices';
  readonly #client: ClickHouseClient;
  readonly #database: string;
  readonly #clock: NoticeClock;
  /** the insert in flight: the next waits for it, so seq order is insert order */
  #tail: Promise<unknown> = Promise.resolve();

  readonly #refused: RefusedRowSink;

  constructor(
    client: ClickHouseClient,
    database: string,
    refused: RefusedRowSink,
    clock = new NoticeClock(),
  ) {
    this.#client = client;
    this.#database = database;
    this.#refused = refused;
    this.#clock = clock;
  }

  /**
   * Inserts the notices. A failed publish is retried whole by the revoker with new seqs, so rows
   * of a chunk that did land (or an insert that timed out after landing) are stored twice: the
   * poller applies the same notice twice, which a denylist shrugs off.
   */
  publish(notices: RevocationNotice[]): Promise<void> {
    if (notices.length === 0) return Promise.resolve();
    const run = this.#tail.then(async () => {
      // The millisecond is taken when the insert starts, not when publish was called (order above).
      for (const chunk of noticeRows(notices, this.#clock)) {
        await insertJsonRows({
          client: this.#client,
          table: `${this.#database}.revocation_notices`,
          rows: chunk,
          refused: this.#refused,
          by: 'response/notices/clickhouse-notices',
        });
      }
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }
}

/** A notice as GET /v1/revocations answers it: the Kafka notice's JSON, plus its cursor first. */
export type PolledNotice = { seq: number } & RevocationNotice;

export interface NoticesQuery {
  /** undefined: every tenant */
  tenant: string | undefined;
  /** only seq > after */
  after: number;
  /** only notices still in force at this time (epoch ms) */
  nowMs: number;
  limit: number;
}

/** Notices after a cursor, still in force, in seq order (runs on 18.16 and current ClickHouse). */
export function noticesAfterSql(database: string, q: NoticesQuery): string {
  // seq > after implies published_ms >= floor(after / 1000): the `time` bound only skips partitions.
  const where = [
    `seq > ${q.after}`,
    `time >= toDateTime(${Math.floor(q.after / 1_000_000)})`,
    `expires_ms > ${q.nowMs}`,
  ];
  if (q.tenant !== undefined) where.push(`tenant = ${quoteString(q.tenant)}`);
  return `SELECT seq, tenant, subject, target, id, revocation_id, via_target, via_id, detection_id, detector,
  expires_ms, revoked_ms
FROM ${database}.revocation_notices
WHERE ${where.join(' AND ')}
ORDER BY seq
LIMIT ${q.limit}`;
}

type StoredRow = Record<keyof Omit<NoticeRow, 'published_ms' | 'time'>, string | number>;

/** A stored row as the notice it was (UInt64 columns arrive as strings in JSONEachRow). */
export function polledNotice(r: StoredRow): PolledNotice {
  const notice: PolledNotice = {
    seq: Number(r.seq),
    version: 1,
    revocation_id: String(r.revocation_id),
    tenant: String(r.tenant),
    subject: String(r.subject),
    target: String(r.target) as RevocationTarget,
    id: String(r.id),
    expires_at_ms: Number(r.expires_ms),
    revoked_at_ms: Number(r.revoked_ms),
    detection_id: String(r.detection_id),
    detector: String(r.detector),
  };
  if (r.via_target !== '')
    notice.via = { target: String(r.via_target) as RevocationTarget, id: String(r.via_id) };
  return notice;
}

export async function readNotices(
  client: ClickHouseClient,
  database: string,
  q: NoticesQuery,
): Promise<PolledNotice[]> {
  const rs = await client.query({
    query_id: queryId('response/notices/clickhouse-notices'),
    query: noticesAfterSql(database, q),
    format: 'JSONEachRow',
  });
  return (await rs.json<StoredRow>()).map(polledNotice);
}
