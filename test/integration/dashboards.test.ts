/**
 * Every ClickHouse query of every dashboard — panels, annotations, variables — expanded the way
 * Grafana and the ClickHouse plugin expand them, run on the real ClickHouse 18.16 and on a current
 * engine (chdb) over a seeded world: each returns the columns its panel reads, and rows. The
 * rollups the overview reads agree with the raw tables, including what was stored before the
 * rollup migration (the backfill).
 */
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DASHBOARDS } from '../../dashboards/src/index.ts';
import { allQueries } from '../../dashboards/src/inspect.ts';
import { ALL, expandQuery } from '../../dashboards/src/macros.ts';
import { detectFeatures } from '../../platform/clickhouse/client.ts';
import { migrate } from '../../platform/clickhouse/migrate.ts';
import { MIGRATIONS } from '../../platform/clickhouse/schema.ts';
import { GRAFANA_USER } from '../../tools/local-stack/clickhouse-server.ts';
import { chdb, chdbFeatures, schemaStatements } from '../support/chdb.ts';
import { answerProblems, cases, dashboardQueryProblems, seededWorld } from '../support/dashboard-queries.ts';
import { ALICE, type EventRow, HOSTILE, SEED_FROM, SEED_TO } from '../support/dashboard-seed.ts';
import { unique } from '../support/harness.ts';

const { events, detections, deadLetters, tables } = seededWorld();

describe('dashboard SQL on ClickHouse 18.16', () => {
  const database = unique('dash');
  let ch: ClickHouseClient;

  // The dashboards read as Grafana does: its read-only user (tools/local-stack/clickhouse-server.ts).
  const grafana = { username: GRAFANA_USER.user, password: GRAFANA_USER.password };
  let admin: ClickHouseClient;

  beforeAll(async () => {
    ch = createClient({ url: inject('clickhouseUrl'), database, ...grafana });
    admin = createClient({ url: inject('clickhouseUrl') });
    const features = await detectFeatures(admin);
    const o = { database, cluster: '', retentionDays: 3650 };
    const log = pino({ level: 'silent' });
    // Half the events before the rollups exist (the backfill must count them), half after.
    await migrate(
      admin,
      o,
      features,
      log,
      MIGRATIONS.filter((m) => m.version < 8),
    );
    const half = Math.floor(events.length / 2);
    await admin.insert({ table: `${database}.events`, values: events.slice(0, half), format: 'JSONEachRow' });
    await admin.insert({
      table: `${database}.dead_letters`,
      values: deadLetters.slice(0, 1),
      format: 'JSONEachRow',
    });
    await migrate(admin, o, features, log);
    await admin.insert({ table: `${database}.events`, values: events.slice(half), format: 'JSONEachRow' });
    for (const [table, rows] of tables) {
      const values = table === 'dead_letters' ? rows.slice(1) : rows;
      await admin.insert({ table: `${database}.${table}`, values, format: 'JSONEachRow' });
    }
  });
  afterAll(async () => {
    await admin.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await Promise.all([ch.close(), admin.close()]);
  });

  async function run(sql: string) {
    const rs = await ch.query({ query: sql, format: 'JSON' });
    return rs.json<Record<string, unknown>>();
  }

  it('every query returns the columns its panel reads (and rows where the seed has them)', async () => {
    expect(await dashboardQueryProblems(run)).toEqual([]);
  });

  it('the rollups count what the raw tables hold, backfilled history included', async () => {
    const one = async (sql: string) => Number(Object.values((await run(sql)).data[0]!)[0]);
    expect(await one('SELECT sum(events) FROM events_per_minute')).toBe(events.length);
    expect(await one('SELECT countMerge(events) FROM ingest_per_minute')).toBe(events.length);
    expect(await one('SELECT sum(letters) FROM dead_letters_per_minute')).toBe(deadLetters.length);
    const byOutcome = await run(
      "SELECT outcome, sum(events) AS n FROM events_per_minute WHERE type = 'verification' GROUP BY outcome ORDER BY outcome",
    );
    const raw = await run(
      "SELECT outcome, count() AS n FROM events WHERE type = 'verification' GROUP BY outcome ORDER BY outcome",
    );
    expect(byOutcome.data.map((r) => [r['outcome'], Number(r['n'])])).toEqual(
      raw.data.map((r) => [r['outcome'], Number(r['n'])]),
    );
  });

  it('panels answer what the seeded world says', async () => {
    const overview = allQueries(DASHBOARDS['overview.json']!());
    const ctx = { fromMs: SEED_FROM, toMs: SEED_TO, intervalS: 60, variables: { tenant: ALL, source: ALL } };
    const panel = async (title: string) => {
      const q = overview.find((x) => x.panelTitle === title);
      if (q === undefined) throw new Error(`no panel "${title}"`);
      return (await run(expandQuery(q.text, ctx))).data;
    };
    const stat = async (title: string) => Number(Object.values((await panel(title))[0]!)[0]);
    expect(await stat('Findings')).toBe(detections.length);
    expect(await stat('Revoked')).toBe(1);
    expect(await stat('Revocations failed')).toBe(1);
    expect(await stat('Suppressed by the guard')).toBe(1);
    expect(await stat('Revoked tokens presented')).toBe(1);
    expect(await stat('Dead letters')).toBe(deadLetters.length);

    const perSecond = await panel('Verification outcomes /s');
    const total = (outcome: string) =>
      Math.round(
        perSecond
          .filter((r) => r['outcome'] === outcome)
          .reduce((s, r) => s + Number(r['per_second']) * 60, 0),
      );
    const seeded = (outcome: string) =>
      events.filter((e) => e['type'] === 'verification' && e['outcome'] === outcome).length;
    expect(total('accepted')).toBe(seeded('accepted'));
    expect(total('rejected')).toBe(seeded('rejected'));

    const top = await panel('Top subjects with suspicious reuse');
    expect(top[0]).toMatchObject({ tenant: 'acme', subject: 'alice', findings: '3' });
    const places = await panel('Impossible travel');
    expect(places.map((r) => [r['place'], r['city']])).toEqual([
      ['from', 'Berlin'],
      ['to', 'São Paulo'],
    ]);
    const ttr = await panel('Time to revoke (p50, p99)');
    expect(Number(ttr[0]!['p50'])).toBeCloseTo(0.12, 3);
    const ips = await panel('Top IPs in suspicious reuse');
    expect(ips.map((r) => r['ip'])).toContain('200.147.67.142');
  });

  it('a range that starts inside an interval keeps that interval (time filter on rows, not buckets)', async () => {
    const q = allQueries(DASHBOARDS['overview.json']!()).find(
      (x) => x.panelTitle === 'Revocations by status',
    )!;
    const ctx = {
      fromMs: ALICE.replay - 1000,
      toMs: SEED_TO,
      intervalS: 3600,
      variables: { tenant: ALL, source: ALL },
    };
    const rows = (await run(expandQuery(q.text, ctx))).data;
    expect(rows.map((r) => [r['outcome'], Number(r['revocations'])]).sort()).toEqual([
      ['done', 1],
      ['failed', 1],
    ]);
  });

  it('a subject full of quotes and backslashes finds its own events and nothing else (no injection)', async () => {
    const investigation = allQueries(DASHBOARDS['investigation.json']!());
    const variables = { tenant: 'acme', subject: HOSTILE.subject, jti: '', family: '' };
    const ctx = { fromMs: SEED_FROM, toMs: SEED_TO, intervalS: 60, variables };
    const answers = new Map<string, Record<string, unknown>[]>();
    for (const q of investigation.filter((x) => x.panelTitle !== ''))
      answers.set(q.where, (await run(expandQuery(q.text, ctx))).data);
    const timeline = [...answers.entries()].find(([where]) => where.includes('"Timeline"'))![1];
    const mine = events.filter((e) => e['subject'] === HOSTILE.subject);
    expect(mine).toHaveLength(3);
    expect(timeline.map((r) => r['event_id']).sort()).toEqual(mine.map((e) => e['event_id']).sort());
    expect(new Set(timeline.map((r) => r['city']))).toEqual(new Set(['Tokyo']));
    // The lookalike (one more backslash) and everyone else stay out of every panel.
    const ids = new Set(mine.map((e) => e['event_id']));
    for (const [where, rows] of answers)
      for (const r of rows) {
        if ('event_id' in r) expect(ids.has(r['event_id']), where).toBe(true);
        if ('subject' in r) expect(r['subject'], where).toBe(HOSTILE.subject);
      }

    const overview = allQueries(DASHBOARDS['overview.json']!()).find(
      (x) => x.panelTitle === 'Verification outcomes /s',
    )!;
    const bySource = {
      ...ctx,
      variables: { tenant: ['acme'], source: [HOSTILE.source] },
    };
    const perSecond = (await run(expandQuery(overview.text, bySource))).data;
    const total = (outcome: string) =>
      Math.round(
        perSecond
          .filter((r) => r['outcome'] === outcome)
          .reduce((sum, r) => sum + Number(r['per_second']) * 60, 0),
      );
    expect([total('accepted'), total('rejected')]).toEqual([3, 1]);
  });

  it("Grafana's ClickHouse user reads, and cannot write, run DDL or lift its limits", async () => {
    expect((await run('SELECT count() AS n FROM events')).data).toEqual([{ n: String(events.length) }]);
    const refused = async (query: string) => {
      const err = await ch.command({ query }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message, query).toMatch(/readonly|prohibited|Cannot modify|cannot be overrid/i);
    };
    await refused(`INSERT INTO ${database}.events (event_id) VALUES ('x')`);
    await refused(`CREATE TABLE ${database}.x (a UInt8) ENGINE = Memory`);
    await refused(`DROP TABLE ${database}.events`);
    await refused('SELECT 1 SETTINGS readonly = 0');
    await refused('SELECT 1 SETTINGS allow_ddl = 1');
  });

  it('the investigation finds alice by her stolen jti alone', async () => {
    const timeline = allQueries(DASHBOARDS['investigation.json']!()).find(
      (q) => q.panelTitle === 'Timeline',
    )!;
    const sql = expandQuery(timeline.text, {
      fromMs: SEED_FROM,
      toMs: SEED_TO,
      intervalS: 60,
      variables: { tenant: 'acme', subject: '', jti: ALICE.stolenJti, family: '' },
    });
    const rows = (await run(sql)).data;
    expect(rows.map((r) => [r['type'], r['outcome'], r['city']])).toEqual([
      ['verification', 'accepted', 'São Paulo'],
      ['verification', 'rejected', 'São Paulo'],
      ['refresh', 'rotated', 'Berlin'],
    ]);
  });
});

describe('dashboard SQL on current ClickHouse (chdb)', () => {
  it('every query runs and returns the columns its panel reads', async () => {
    const features = await chdbFeatures();
    const o = { database: 'tw', cluster: '', retentionDays: 3650 };
    const insert = (table: string, rows: EventRow[]) =>
      `INSERT INTO tw.${table} FORMAT JSONEachRow\n${rows.map((r) => JSON.stringify(r)).join('\n')}`;
    const statements = [
      ...schemaStatements(o, features),
      insert('events', events),
      ...tables.map(([table, rows]) => insert(table, rows)),
    ];
    const hostile = cases().filter(
      (c) => c.run.name.startsWith('investigation of a subject full') && c.query.panelTitle === 'Timeline',
    );
    const all = [...cases().filter((c) => c.run.rows), ...hostile];
    // chdb's session has no current database to set per query: qualify the tables.
    const qualify = (sql: string) =>
      sql.replace(
        /\b(FROM|JOIN)\s+(events_per_minute|ingest_per_minute|dead_letters_per_minute|events_by_token|events|detections|revocations|dead_letters)\b/g,
        '$1 tw.$2',
      );
    const report = await chdb(
      statements,
      all.map((c) => qualify(c.sql)),
    );
    const setup = report.results.slice(0, statements.length).filter((r) => !r.ok);
    expect(setup, JSON.stringify(setup, null, 2)).toEqual([]);
    const problems: string[] = [];
    for (const [i, r] of report.results.slice(statements.length).entries()) {
      const c = all[i]!;
      const first = r.rows?.[0];
      if (!r.ok) problems.push(`${c.label}: ${r.error}\n${r.sql}`);
      else if (hostile.includes(c)) {
        const mine = events.filter((e) => e['subject'] === HOSTILE.subject).map((e) => e['event_id']);
        if (
          r
            .rows!.map((x) => x['event_id'])
            .sort()
            .join() !== mine.sort().join()
        )
          problems.push(`${c.label}: rows ${JSON.stringify(r.rows)}, expected the events ${mine.join()}`);
      } else if (first === undefined) problems.push(`${c.label}: no rows`);
      else problems.push(...answerProblems(c, Object.keys(first), r.rows!.length));
    }
    expect(problems).toEqual([]);
  });
});
