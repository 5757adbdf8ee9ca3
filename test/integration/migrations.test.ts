/**
 * Migrations on the real ClickHouse 18.16 (through `tokenwatch migrate`) and on a current
 * ClickHouse engine (chdb, run by test/support/chdb_exec.py): idempotent, recorded, same SQL.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { RevocationNotice } from '../../contract/revocation-notice-v1.ts';
import { historySql, readHistory } from '../../detectors/run/history.ts';
import { detectFeatures, featuresOf } from '../../platform/clickhouse/client.ts';
import { migrate } from '../../platform/clickhouse/migrate.ts';
import { dropExpiredPartitions } from '../../platform/clickhouse/retention.ts';
import { MIGRATIONS } from '../../platform/clickhouse/schema.ts';
import {
  ClickHouseNotices,
  NoticeClock,
  noticesAfterSql,
  polledNotice,
  readNotices,
} from '../../response/notices/clickhouse-notices.ts';
import {
  latestRevocationsSql,
  linkedAccessTokensSql,
  RevocationLog,
  type RevocationRow,
} from '../../response/revoke/outbox.ts';
import { REPO_ROOT } from '../../tools/local-stack/paths.ts';
import { chdb, chdbFeatures, schemaStatements } from '../support/chdb.ts';
import { clickhouse, queryRows, scalar, unique } from '../support/harness.ts';
import { NO_REFUSALS } from '../support/no-refusals.ts';

const OUTBOX_BASE_MS = Date.now() - 10_000;
const revocationRow = (status: RevocationRow['status'], timeMs: number): RevocationRow => ({
  revocation_id: 'r1',
  tenant: 't',
  subject: 's',
  target_kind: 'family',
  target_id: 'F1',
  status,
  attempt: status === 'pending' ? 0 : 1,
  http_status: status === 'pending' ? 0 : 200,
  latency_ms: 3,
  error: '',
  detection_id: 'd1',
  detector: 'refresh_replay',
  severity: 'high',
  reason: 'replay',
  expires_ms: 9_000_000_000_000,
  detected_ms: 900,
  decided_ms: timeMs,
  time_ms: OUTBOX_BASE_MS + timeMs,
});

const outboxQueries = (database: string) => [
  latestRevocationsSql(database, 30),
  linkedAccessTokensSql(database, { tenant: 't', subject: 's', target: 'family', id: 'F1', sinceMs: 0 }),
];

/** Notices of tenant t (a family, its linked jti, one already expired) and one of tenant u. */
const NOTICE_MS = 1_795_368_720_000;
const notice = (
  tenant: string,
  target: 'family' | 'jti',
  id: string,
  expiresMs: number,
): RevocationNotice => ({
  version: 1,
  revocation_id: 'r1',
  tenant,
  subject: 's',
  target,
  id,
  expires_at_ms: expiresMs,
  revoked_at_ms: NOTICE_MS - 1,
  detection_id: 'd1',
  detector: 'refresh_replay',
  ...(target === 'jti' ? { via: { target: 'family' as const, id: 'F1' } } : {}),
});
const NOTICES = [
  notice('t', 'family', 'F1', 9_000_000_000_000),
  notice('t', 'jti', 'a1', 9_000_000_000_000),
  notice('t', 'jti', 'old', NOTICE_MS),
  notice('u', 'family', 'G1', 9_000_000_000_000),
];
/** t's notices in force after the first one (seq NOTICE_MS * 1000): only the jti a1. */
const noticesQuery = (database: string) =>
  noticesAfterSql(database, { tenant: 't', after: NOTICE_MS * 1000, nowMs: NOTICE_MS + 1, limit: 10 });

const run = promisify(execFile);

async function migrateCli(database: string) {
  return run(process.execPath, [`${REPO_ROOT}service/cli.ts`, 'migrate'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      TOKENWATCH_CLICKHOUSE_URL: inject('clickhouseUrl'),
      TOKENWATCH_CLICKHOUSE_DATABASE: database,
    },
  });
}

describe('migrations', () => {
  const ch = clickhouse();
  afterAll(() => ch.close());

  it('applies every migration once on ClickHouse 18.16 and records it', async () => {
    const database = unique('mig');
    const first = await migrateCli(database);
    expect(first.stdout).toContain('"applied":[{"version":1');
    const second = await migrateCli(database);
    expect(second.stdout).toContain(`"alreadyApplied":${MIGRATIONS.length}`);
    const recorded = await queryRows<{ version: number; name: string }>(
      ch,
      `SELECT version, name FROM ${database}.schema_migrations FINAL ORDER BY version`,
    );
    expect(recorded).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    const tables = await queryRows<{ name: string; engine: string; partition_key?: string }>(
      ch,
      `SELECT name, engine FROM system.tables WHERE database = '${database}' ORDER BY name`,
    );
    expect(tables.map((t) => `${t.name}:${t.engine}`)).toEqual([
      'dead_letters:ReplacingMergeTree',
      'dead_letters_per_minute:SummingMergeTree',
      'dead_letters_per_minute_mv:MaterializedView',
      'detections:ReplacingMergeTree',
      'events:ReplacingMergeTree',
      'events_by_token:ReplacingMergeTree',
      'events_by_token_mv:MaterializedView',
      'events_per_minute:SummingMergeTree',
      'events_per_minute_mv:MaterializedView',
      'ingest_per_minute:AggregatingMergeTree',
      'ingest_per_minute_mv:MaterializedView',
      'revocation_notices:MergeTree',
      'revocations:MergeTree',
      'schema_migrations:ReplacingMergeTree',
      'webhook_deliveries:MergeTree',
    ]);
    // The response stage's outbox reads run here too.
    const outbox = new RevocationLog(ch, database, NO_REFUSALS);
    await outbox.append([revocationRow('pending', 1000), revocationRow('done', 2000)]);
    expect(await outbox.latest(30)).toEqual([{ ...revocationRow('done', 2000), decided_ms: 1000 }]);
    const now = Date.now();
    await ch.insert({
      table: `${database}.events`,
      values: [
        // issued with family F1: a1 (its exp reported by a verifier) and a2 (no exp seen)
        {
          event_id: 'i1',
          type: 'issuance',
          time: Math.floor(now / 1000),
          time_ms: now,
          tenant: 't',
          subject: 's',
          family_id: 'F1',
          access_jti: 'a1',
        },
        {
          event_id: 'v1',
          type: 'verification',
          time: Math.floor(now / 1000),
          time_ms: now + 1,
          tenant: 't',
          subject: 's',
          jti: 'a1',
          exp: 2_000_000_000,
        },
        {
          event_id: 'r1',
          type: 'refresh',
          time: Math.floor(now / 1000),
          time_ms: now + 2,
          tenant: 't',
          subject: 's',
          family_id: 'F1',
          access_jti: 'a2',
        },
        {
          event_id: 'o1',
          type: 'refresh',
          time: Math.floor(now / 1000),
          time_ms: now + 3,
          tenant: 't',
          subject: 's',
          family_id: 'F2',
          access_jti: 'b1',
        },
        {
          // a verifier's key cannot link a token to a family (nor can a verification)
          event_id: 'x1',
          type: 'verification',
          time: Math.floor(now / 1000),
          time_ms: now + 4,
          tenant: 't',
          subject: 's',
          family_id: 'F1',
          access_jti: 'x1',
          reporter_role: 'verifier',
        },
        {
          event_id: 'x2',
          type: 'refresh',
          time: Math.floor(now / 1000),
          time_ms: now + 5,
          tenant: 't',
          subject: 's',
          family_id: 'F1',
          access_jti: 'x2',
          reporter_role: 'verifier',
        },
      ],
      format: 'JSONEachRow',
    });
    const linked = await outbox.linkedAccessTokens('t', 's', 'family', 'F1', now - 60_000);
    expect(linked.sort((a, b) => a.jti.localeCompare(b.jti))).toEqual([
      { jti: 'a1', issued_ms: now, exp_s: 2_000_000_000 },
      { jti: 'a2', issued_ms: now + 2, exp_s: 0 },
    ]);
    expect(
      await scalar(
        ch,
        `SELECT count() FROM system.columns WHERE database = '${database}' AND table = 'events'`,
      ),
    ).toBe(46); // 34 + the partition (migration 10) + who reported it (migration 11) + its network (migration 13) + the key binding (migration 14) + the device id's source (migration 15)

    // The revocation notices: stored with their seq, read back after a cursor as they were sent.
    const notices = new ClickHouseNotices(ch, database, NO_REFUSALS, new NoticeClock(() => NOTICE_MS));
    await notices.publish(NOTICES);
    const read = (q: Partial<Parameters<typeof readNotices>[2]>) =>
      readNotices(ch, database, { tenant: 't', after: 0, nowMs: NOTICE_MS + 1, limit: 10, ...q });
    expect(await read({})).toEqual([
      { seq: NOTICE_MS * 1000, ...NOTICES[0] },
      { seq: NOTICE_MS * 1000 + 1, ...NOTICES[1] },
    ]);
    expect(await read({ after: NOTICE_MS * 1000 })).toEqual([{ seq: NOTICE_MS * 1000 + 1, ...NOTICES[1] }]);
    expect((await read({ limit: 1 })).map((n) => n.id)).toEqual(['F1']);
    expect((await read({ tenant: undefined })).map((n) => n.id)).toEqual(['F1', 'a1', 'G1']);
    expect(await read({ nowMs: 9_000_000_000_000 })).toEqual([]);
    expect(await queryRows(ch, noticesQuery(database))).toHaveLength(1);
  });

  it('adds the partition columns to an existing events table on 18.16; old rows are filed under none', async () => {
    const database = unique('mig');
    const o = { database, cluster: '', retentionDays: 30 };
    const features = await detectFeatures(ch);
    expect(features.version).toMatch(/^18\.16\./);
    const silent = pino({ level: 'silent' });
    const before = MIGRATIONS.filter((m) => m.name !== 'events_kafka_partition');
    await migrate(ch, o, features, silent, before);
    const nowS = Math.floor(Date.now() / 1000);
    const row = (id: string, subject: string) => ({
      event_id: id,
      type: 'verification',
      time: nowS,
      time_ms: nowS * 1000,
      tenant: 't',
      subject,
    });
    await ch.insert({
      table: `${database}.events`,
      values: [row('old1', 'a'), row('old2', 'b')],
      format: 'JSONEachRow',
    });
    const report = await migrate(ch, o, features, silent);
    expect(report.applied).toEqual([{ version: 10, name: 'events_kafka_partition' }]);
    await ch.insert({
      table: `${database}.events`,
      values: [
        { ...row('new1', 'c'), kafka_partition: 3, kafka_partitions: 4 },
        { ...row('new2', 'd'), kafka_partition: 1, kafka_partitions: 4 },
      ],
      format: 'JSONEachRow',
    });
    expect(
      await queryRows(
        ch,
        `SELECT event_id, kafka_partition, kafka_partitions FROM ${database}.events ORDER BY event_id`,
      ),
    ).toEqual([
      { event_id: 'new1', kafka_partition: 3, kafka_partitions: 4 },
      { event_id: 'new2', kafka_partition: 1, kafka_partitions: 4 },
      { event_id: 'old1', kafka_partition: 0, kafka_partitions: 0 },
      { event_id: 'old2', kafka_partition: 0, kafka_partitions: 0 },
    ]);
    // partition 3's rebuild reads its own rows and the ones that know no partition
    const read: string[] = [];
    await readHistory(
      ch,
      database,
      { familiesFromS: nowS - 60, tokensFromS: nowS - 60, partitions: new Map([[4, [3]]]) },
      (e) => read.push(e.event_id),
    );
    expect(read.sort()).toEqual(['new1', 'old1', 'old2']);
    // and applying it again is a no-op
    expect((await migrate(ch, o, features, silent)).applied).toEqual([]);
  });

  it('drops day partitions past the retention on 18.16 (no TTL there), keeping the rest', async () => {
    const database = unique('ret');
    await migrateCli(database);
    const day = 86_400;
    const now = Math.floor(Date.now() / 1000);
    const times = [now, now - 10 * day, now - 40 * day, now - 400 * day];
    await ch.insert({
      table: `${database}.events`,
      values: times.map((t, i) => ({
        event_id: `r${i}`,
        type: 'refresh',
        time: t,
        time_ms: t * 1000,
        received_at: t,
        received_ms: t * 1000,
        jti: `j${i}`,
      })),
      format: 'JSONEachRow',
    });
    await ch.insert({
      table: `${database}.dead_letters`,
      values: times.map((t, i) => ({
        letter_id: `l${i}`,
        received_at: t,
        received_ms: t * 1000,
        door: 'http',
        code: 'x',
      })),
      format: 'JSONEachRow',
    });
    const o = { database, cluster: '', retentionDays: 30 };
    const dropped = await dropExpiredPartitions(ch, o, featuresOf('18.16.1'), pino({ level: 'silent' }));
    // two old days in each of events, events_by_token, dead_letters and their three rollups
    expect(dropped).toBe(12);
    expect(await scalar(ch, `SELECT count() FROM ${database}.events`)).toBe(2);
    expect(await scalar(ch, `SELECT sum(events) FROM ${database}.events_per_minute`)).toBe(2);
    expect(await scalar(ch, `SELECT countMerge(events) FROM ${database}.ingest_per_minute`)).toBe(2);
    expect(await scalar(ch, `SELECT sum(letters) FROM ${database}.dead_letters_per_minute`)).toBe(2);
    expect(await scalar(ch, `SELECT count() FROM ${database}.events_by_token`)).toBe(2);
    expect(await scalar(ch, `SELECT count() FROM ${database}.dead_letters`)).toBe(2);
    expect(await dropExpiredPartitions(ch, o, featuresOf('18.16.1'), pino({ level: 'silent' }))).toBe(0);
  });

  it('runs the same schema on a current ClickHouse engine, with TTL', async () => {
    const features = await chdbFeatures();
    expect(features.ttl).toBe(true);
    const o = { database: 'tw', cluster: '', retentionDays: 30 };
    const statements = [
      ...schemaStatements(o, features),
      // idempotent: the whole schema again
      ...MIGRATIONS.flatMap((m) => m.statements(o, features)),
      "INSERT INTO tw.events (event_id, type, time, time_ms, tenant, subject, jti, family_id, session_id) VALUES ('e1', 'verification', 1795368720, 1795368720000, 't', 's', 'J1', 'F1', '')",
      "INSERT INTO tw.events (event_id, type, time, time_ms, tenant, subject, jti, family_id, session_id) VALUES ('e1', 'verification', 1795368720, 1795368720000, 't', 's', 'J1', 'F1', '')",
      `INSERT INTO tw.revocation_notices (seq, tenant, subject, target, id, revocation_id, via_target, via_id, detection_id, detector, expires_ms, revoked_ms, published_ms, time) VALUES ${NOTICES.map(
        (n, i) =>
          `(${NOTICE_MS * 1000 + i}, '${n.tenant}', 's', '${n.target}', '${n.id}', 'r1', '${n.via?.target ?? ''}', '${n.via?.id ?? ''}', 'd1', 'refresh_replay', ${n.expires_at_ms}, ${n.revoked_at_ms}, ${NOTICE_MS}, ${NOTICE_MS / 1000})`,
      ).join(', ')}`,
    ];
    const report = await chdb(statements, [
      'SELECT token_kind, token FROM tw.events_by_token FINAL ORDER BY token',
      'SELECT count() AS n FROM tw.events FINAL',
      ...outboxQueries('tw'),
      noticesQuery('tw'),
      "SELECT create_table_query FROM system.tables WHERE database = 'tw' AND name = 'events'",
      // the rebuild of given partitions (the only query with them) runs there too
      historySql('tw', { familiesFromS: 0, tokensFromS: 0, partitions: new Map([[4, [0, 2]]]) }),
    ]);
    const failed = report.results.filter((r) => !r.ok);
    expect(failed, JSON.stringify(failed, null, 2)).toEqual([]);
    const [tokens, count, , , notices, ddl] = report.results.slice(-7);
    // (current ClickHouse answers UInt64 as JSON numbers, 18.16 as strings: both read the same)
    expect(notices!.rows!.map((r) => polledNotice(r as Parameters<typeof polledNotice>[0]))).toEqual([
      { seq: NOTICE_MS * 1000 + 1, ...NOTICES[1] },
    ]);
    expect(tokens!.rows).toEqual([
      { token_kind: 'family', token: 'F1' },
      { token_kind: 'jti', token: 'J1' },
    ]);
    expect(Number(count!.rows![0]!['n'])).toBe(1);
    expect(String(ddl!.rows![0]!['create_table_query'])).toContain('toIntervalDay(30)');
  });
});
