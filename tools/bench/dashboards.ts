/**
 * `npm run bench:dashboards`: how fast the on-call overview answers over 10M events. Every
 * ClickHouse query of the overview (panels, annotation, variables), expanded as Grafana and the
 * plugin expand it, timed as built (event panels read the minute rollups of migration 8) beside the
 * same question asked of the raw tables, in the same run, on a private ClickHouse 18.16. The two
 * answers are compared (rollups must not change what a panel shows; quantiles are approximate on
 * both sides and compared within 5%).
 *
 *   BENCH_DASHBOARD_EVENTS   events seeded (default 10,000,000) over 7 days, 5 tenants, 100k subjects
 *   BENCH_DASHBOARD_ROUNDS   timed rounds per query and range (default 20; rollup and raw alternate)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { pino } from 'pino';
import { DASHBOARDS } from '../../dashboards/src/index.ts';
import { allQueries, isClickHouse } from '../../dashboards/src/inspect.ts';
import { ALL, expandQuery } from '../../dashboards/src/macros.ts';
import { detectFeatures } from '../../platform/clickhouse/client.ts';
import { migrate } from '../../platform/clickhouse/migrate.ts';
import { startClickHouse, stopClickHouse } from '../local-stack/clickhouse-server.ts';
import { freePort } from '../local-stack/process.ts';
import { type Headline, headline, machine, quantile, writeResults } from './support.ts';

const EVENTS = Number(process.env['BENCH_DASHBOARD_EVENTS'] ?? 10_000_000);
const ROUNDS = Number(process.env['BENCH_DASHBOARD_ROUNDS'] ?? 20);
const DATABASE = 'bench_dashboards';
const DAY_MS = 86_400_000;
const log = (m: string) => console.error(`[bench:dashboards] ${m}`);

const LAG = 'toUInt64(if(received_ms > time_ms, received_ms - time_ms, 0))';

/**
 * The same question of the raw tables: each rollup read rewritten as the aggregation it stands for
 * (the rollup's minute becomes the raw row's time or arrival time).
 */
function rawEquivalent(sql: string): string {
  if (sql.includes('FROM events_per_minute')) {
    return sql
      .replaceAll('FROM events_per_minute', 'FROM events')
      .replaceAll('sum(events)', 'count()')
      .replace(/\bminute\b/g, 'time');
  }
  if (sql.includes('FROM ingest_per_minute')) {
    return sql
      .replaceAll('FROM ingest_per_minute', 'FROM events')
      .replaceAll('countMerge(events)', 'count()')
      .replaceAll('quantilesTDigestMerge(0.5, 0.9, 0.99)(lag_ms)', `quantilesTDigest(0.5, 0.9, 0.99)(${LAG})`)
      .replaceAll('maxMerge(max_lag_ms)', `max(${LAG})`)
      .replace(/\bminute\b/g, 'received_at');
  }
  if (sql.includes('FROM dead_letters_per_minute')) {
    return sql
      .replaceAll('FROM dead_letters_per_minute', 'FROM dead_letters')
      .replaceAll('sum(letters)', 'count()')
      .replace(/\bminute\b/g, 'received_at');
  }
  return sql;
}

async function seed(ch: ClickHouseClient, endMs: number) {
  const startMs = endMs - 7 * DAY_MS;
  const chunk = 1_000_000;
  const began = Date.now();
  for (let offset = 0; offset < EVENTS; offset += chunk) {
    const n = Math.min(chunk, EVENTS - offset);
    // One event every 7 days / EVENTS, deterministic: 90% of verifications accepted, the rest
    // rejected for the usual reasons; a refresh in ten, some rejected as reuse.
    await ch.command({
      query: `
INSERT INTO ${DATABASE}.events (event_id, type, time, time_ms, received_at, received_ms, tenant, source, subject,
  ip, device_id, outcome, reason, jti, family_id, country, city, lat, lon)
SELECT concat('b', toString(k)) AS event_id,
  if(k % 10 = 0, 'refresh', 'verification') AS type,
  toDateTime(intDiv(ms, 1000)) AS time, ms AS time_ms,
  toDateTime(intDiv(ms + lag, 1000)) AS received_at, ms + lag AS received_ms,
  concat('tenant-', toString(k % 5)) AS tenant,
  ['api-gw', 'orders-api', 'billing', 'mobile-bff'][k % 4 + 1] AS source,
  concat('user-', toString(intHash32(k) % 100000)) AS subject,
  IPv4NumToString(toUInt32(intHash32(k * 3))) AS ip, concat('dev-', toString(intHash32(k) % 200000)) AS device_id,
  if(k % 10 = 0, if(h < 95, 'rotated', 'rejected'), if(h < 90, 'accepted', 'rejected')) AS outcome,
  if(k % 10 = 0, multiIf(h < 95, 'ok', h < 98, 'expired', 'reuse_detected'),
    multiIf(h < 90, 'ok', h < 95, 'expired', h < 97, 'bad_signature', h < 98, 'wrong_audience', h < 99, 'revoked', 'unknown_kid')) AS reason,
  concat('j', toString(k)) AS jti, if(k % 10 = 0, concat('f', toString(intHash32(k) % 100000)), '') AS family_id,
  ['DE', 'BR', 'US', 'JP', 'ZA'][intHash32(k) % 5 + 1] AS country, '' AS city, 0 AS lat, 0 AS lon
FROM (
  SELECT number + ${offset} AS k, toUInt64(${startMs} + intDiv((number + ${offset}) * ${7 * DAY_MS}, ${EVENTS})) AS ms,
    intHash32(number + ${offset}) % 3000 AS lag, intHash32((number + ${offset}) * 7) % 100 AS h
  FROM system.numbers LIMIT ${n}
)`,
    });
    const done = offset + n;
    log(
      `seeded ${done.toLocaleString('en')} / ${EVENTS.toLocaleString('en')} events (${Math.round(done / ((Date.now() - began) / 1000)).toLocaleString('en')}/s, rollups filled by their views)`,
    );
  }
  const spread = (k: string, n: number) => `toUInt64(${startMs} + intDiv(${k} * ${7 * DAY_MS}, ${n}))`;
  await ch.command({
    query: `
INSERT INTO ${DATABASE}.detections (detection_id, detector, kind, severity, confidence, action, tenant, subject, target_kind,
  target_id, evidence, first_event_time, first_event_ms, detected_time, detected_ms, found_at, found_at_ms,
  evidence_ips, evidence_countries, evidence_cities, evidence_lats, evidence_lons, evidence_times_ms)
SELECT concat('d', toString(number)), ['refresh_replay', 'impossible_travel', 'device_reuse', 'verification_anomaly'][number % 4 + 1],
  'seeded', ['low', 'medium', 'high', 'critical'][number % 4 + 1], 0.9, 'revoke_family',
  concat('tenant-', toString(number % 5)), concat('user-', toString(intHash32(number) % 100000)), 'family', concat('f', toString(number)),
  '{"speed_kmh":3000,"distance_km":9000,"elapsed_s":10800}', toDateTime(intDiv(ms, 1000)), ms, toDateTime(intDiv(ms, 1000)), ms,
  toDateTime(intDiv(ms, 1000)), ms,
  [IPv4NumToString(toUInt32(intHash32(number))), IPv4NumToString(toUInt32(intHash32(number + 1)))], ['DE', 'BR'], ['Berlin', 'São Paulo'],
  [52.52, -23.55], [13.4, -46.63], [toUInt64(ms - 3600000), ms]
FROM (SELECT number, ${spread('number', 20_000)} AS ms FROM system.numbers LIMIT 20000)`,
  });
  await ch.command({
    query: `
INSERT INTO ${DATABASE}.revocations (revocation_id, tenant, subject, target_kind, target_id, status, attempt, http_status, detector,
  detected_ms, decided_ms, time, time_ms)
SELECT concat('r', toString(intDiv(number, 2))), concat('tenant-', toString(intDiv(number, 2) % 5)), concat('user-', toString(number % 1000)),
  'family', concat('f', toString(number)), if(number % 2 = 0, 'pending', ['done', 'done', 'done', 'failed', 'suppressed', 'dry_run'][intDiv(number, 2) % 6 + 1]),
  number % 2, if(number % 2 = 0, 0, 200), 'refresh_replay', ms - 150, ms - 100, toDateTime(intDiv(ms, 1000)), ms
FROM (SELECT number, ${spread('number', 40_000)} AS ms FROM system.numbers LIMIT 40000)`,
  });
  await ch.command({
    query: `
INSERT INTO ${DATABASE}.dead_letters (letter_id, received_at, received_ms, door, tenant, code, message)
SELECT concat('l', toString(number)), toDateTime(intDiv(ms, 1000)), ms, if(number % 2 = 0, 'http', 'kafka'),
  concat('tenant-', toString(number % 5)), ['invalid_field', 'bad_json', 'too_large'][number % 3 + 1], 'seeded'
FROM (SELECT number, ${spread('number', 100_000)} AS ms FROM system.numbers LIMIT 100000)`,
  });
  log(`seeded in ${((Date.now() - began) / 1000).toFixed(0)} s`);
}

/** Rows as comparable text: numbers rounded (and quantile columns only within 5%, checked apart). */
function sameAnswer(
  a: Record<string, unknown>[],
  b: Record<string, unknown>[],
  approximate: boolean,
): boolean {
  if (a.length !== b.length) return false;
  // Rows tied on the ORDER BY come in any order: sort both by their text columns.
  const labels = (r: Record<string, unknown>) =>
    JSON.stringify(Object.values(r).filter((v) => typeof v === 'string' && Number.isNaN(Number(v))));
  const byLabels = (x: Record<string, unknown>, y: Record<string, unknown>) =>
    labels(x).localeCompare(labels(y));
  [a, b] = [[...a].sort(byLabels), [...b].sort(byLabels)];
  return a.every((row, i) =>
    Object.entries(row).every(([k, v]) => {
      const w = b[i]![k];
      if (typeof v === 'number' || (typeof v === 'string' && v !== '' && !Number.isNaN(Number(v)))) {
        const x = Number(v);
        const y = Number(w);
        const tolerance = approximate ? 0.05 : 1e-9;
        return Math.abs(x - y) <= tolerance * Math.max(1, Math.abs(x), Math.abs(y));
      }
      return JSON.stringify(v) === JSON.stringify(w);
    }),
  );
}

async function timed(ch: ClickHouseClient, sql: string) {
  const t = performance.now();
  const rs = await ch.query({ query: sql, format: 'JSONEachRow' });
  const rows = await rs.json<Record<string, unknown>>();
  return { ms: performance.now() - t, rows };
}

interface Measured {
  range: string;
  query: string;
  readsRollup: boolean;
  sameAnswer: boolean;
  rows: number;
  rollup: { p50: number; p95: number };
  raw: { p50: number; p95: number };
}

async function main() {
  const dir = mkdtempSync(`${tmpdir()}/tokenwatch-bench-dash-`);
  const [httpPort, tcpPort] = [await freePort(), await freePort()];
  log(`starting ClickHouse in ${dir}`);
  const server = await startClickHouse({ dir: `${dir}/clickhouse`, httpPort, tcpPort });
  const admin = createClient({
    url: server.url,
    request_timeout: 600_000,
    log: { level: ClickHouseLogLevel.OFF },
  });
  const ch = createClient({ url: server.url, database: DATABASE, log: { level: ClickHouseLogLevel.OFF } });
  try {
    const features = await detectFeatures(admin);
    await migrate(
      admin,
      { database: DATABASE, cluster: '', retentionDays: 3650 },
      features,
      pino({ level: 'warn' }),
    );
    const endMs = Math.floor(Date.now() / 60_000) * 60_000;
    await seed(admin, endMs);
    await admin
      .command({ query: `OPTIMIZE TABLE ${DATABASE}.events_per_minute FINAL` })
      .catch(() => undefined);

    const queries = allQueries(DASHBOARDS['overview.json']!()).filter(isClickHouse);
    const ranges = [
      { name: 'last 24 h', fromMs: endMs - DAY_MS, intervalS: 120 },
      { name: 'last 7 days', fromMs: endMs - 7 * DAY_MS, intervalS: 900 },
    ];
    const measured: Measured[] = [];
    const dashboardTotals: Record<string, { rollup: number[]; raw: number[] }> = {};
    for (const range of ranges) {
      // to: a minute past the seeded end, so events received up to 3 s late are inside on both sides
      // (a rollup keeps whole minutes: with \`to\` inside a minute it counts that minute's later rows)
      const ctx = {
        fromMs: range.fromMs,
        toMs: endMs + 60_000,
        intervalS: range.intervalS,
        variables: { tenant: ALL, source: ALL },
      };
      const totals = { rollup: Array<number>(ROUNDS).fill(0), raw: Array<number>(ROUNDS).fill(0) };
      dashboardTotals[range.name] = totals;
      for (const q of queries) {
        const sql = expandQuery(q.text, ctx);
        const raw = rawEquivalent(sql);
        const readsRollup = raw !== sql;
        const first = await timed(ch, sql); // warm both, and compare the answers
        const rawFirst = await timed(ch, raw);
        const same = !readsRollup || sameAnswer(first.rows, rawFirst.rows, sql.includes('quantile'));
        if (!same) {
          log(
            `${q.where}: the rollup's answer (${first.rows.length} rows) differs from the raw tables' (${rawFirst.rows.length}); first rows ${JSON.stringify(first.rows.slice(0, 3))} vs ${JSON.stringify(rawFirst.rows.slice(0, 3))}`,
          );
        }
        const times = { rollup: [] as number[], raw: [] as number[] };
        for (let r = 0; r < ROUNDS; r++) {
          const order = r % 2 === 0 ? (['rollup', 'raw'] as const) : (['raw', 'rollup'] as const);
          for (const which of order) {
            const { ms } = await timed(ch, which === 'rollup' ? sql : raw);
            times[which].push(ms);
            totals[which][r]! += ms;
          }
        }
        const m: Measured = {
          range: range.name,
          query: q.where,
          readsRollup,
          sameAnswer: same,
          rows: first.rows.length,
          rollup: { p50: quantile(times.rollup, 0.5), p95: quantile(times.rollup, 0.95) },
          raw: { p50: quantile(times.raw, 0.5), p95: quantile(times.raw, 0.95) },
        };
        measured.push(m);
        log(
          `${range.name} ${q.where}: p95 ${m.rollup.p95.toFixed(1)} ms as built, ${m.raw.p95.toFixed(1)} ms raw${readsRollup ? '' : ' (same query: no rollup)'}${same ? '' : ' — ANSWERS DIFFER'}`,
        );
      }
    }
    report(measured, dashboardTotals);
  } finally {
    await ch.close();
    await admin.close();
    await stopClickHouse(`${dir}/clickhouse`);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The whole overview per range (p95 of the per-round sum), as built beside the raw tables. */
function headlines(
  measured: Measured[],
  totals: Record<string, { rollup: number[]; raw: number[] }>,
): Headline[] {
  return Object.entries(totals).map(([range, t]) => {
    const built = quantile(t.rollup, 0.95);
    const raw = quantile(t.raw, 0.95);
    const differ = measured.filter((x) => x.range === range && !x.sameAnswer).length;
    return headline({
      figure: `whole overview p95, ${range}, as built (rollups)`,
      value: built,
      unit: 'ms',
      baseline: 'the same questions asked of the raw tables',
      baselineValue: raw,
      note: `raw ÷ built ${(raw / built).toFixed(1)}×; ${differ === 0 ? 'same answers' : `ANSWERS DIFFER in ${differ} queries`}`,
    });
  });
}

function report(measured: Measured[], totals: Record<string, { rollup: number[]; raw: number[] }>) {
  const date = new Date().toISOString().slice(0, 10);
  const m = machine(`ClickHouse 18.16 on loopback, ${EVENTS.toLocaleString('en')} events over 7 days`);
  const f = (ms: number) => (ms < 10 ? ms.toFixed(1) : Math.round(ms).toLocaleString('en'));
  const rows = measured
    .filter((x) => x.readsRollup)
    .map(
      (x) =>
        `| ${x.range} | ${x.query.replace(/^panel /, '').replaceAll('|', '\\|')} | ${f(x.rollup.p95)} | ${f(x.raw.p95)} | ${(x.raw.p95 / x.rollup.p95).toFixed(1)}× | ${x.sameAnswer ? 'yes' : '**no**'} |`,
    );
  const others = measured
    .filter((x) => !x.readsRollup)
    .map(
      (x) => `| ${x.range} | ${x.query.replace(/^panel /, '').replaceAll('|', '\\|')} | ${f(x.rollup.p95)} |`,
    );
  const whole = Object.entries(totals).map(
    ([range, t]) =>
      `| ${range} | ${f(quantile(t.rollup, 0.95))} | ${f(quantile(t.raw, 0.95))} | ${(quantile(t.raw, 0.95) / quantile(t.rollup, 0.95)).toFixed(1)}× |`,
  );
  const section = [
    '## Dashboards',
    '',
    `\`npm run bench:dashboards\` — ${date}, ${m}. Every ClickHouse query of the on-call overview, expanded as Grafana and the plugin expand them (tenant and source: All), ${ROUNDS} rounds each, rollup and raw alternating. Baseline: the same question asked of the raw tables in the same run. Milliseconds, client-measured (HTTP round trip included).`,
    '',
    '| range | query | p95 as built (rollups) | p95 raw tables (baseline) | raw ÷ rollup | same answer |',
    '|---|---|---:|---:|---:|---|',
    ...rows,
    '',
    'The whole overview, its ClickHouse queries one after another (p95 of the per-round sum):',
    '',
    '| range | as built | raw tables | raw ÷ built |',
    '|---|---:|---:|---:|',
    ...whole,
    '',
    'Queries that read the detections and revocations tables (small: one row per finding or attempt, 20,000 and 40,000 here) have no rollup; their p95:',
    '',
    '| range | query | p95 |',
    '|---|---|---:|',
    ...others,
    '',
  ].join('\n');
  console.log(`\n${section}`);
  writeResults('Dashboards', section, 'dashboards', {
    headline: headlines(measured, totals),
    date,
    machine: m,
    events: EVENTS,
    rounds: ROUNDS,
    measured,
    totals,
  });
}

if (import.meta.main) {
  main().catch((err: Error) => {
    console.error(`bench:dashboards failed: ${err.stack ?? err.message}`);
    process.exit(1);
  });
}
