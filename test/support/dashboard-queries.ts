/**
 * Every ClickHouse query of every dashboard — panels, annotations, variables — expanded the way
 * Grafana and the ClickHouse plugin expand them over the seeded world (test/support/dashboard-seed.ts),
 * and what is wrong with a query's answer: not the columns its panel reads, or no rows where the
 * seed has some. Shared by the dashboard tests on one server and on a cluster.
 */
import { type ClickHouseSettings, createClient } from '@clickhouse/client';
import { expectedColumns } from '../../dashboards/src/clickhouse-query.ts';
import { DASHBOARDS } from '../../dashboards/src/index.ts';
import { allQueries, type FoundQuery, isClickHouse } from '../../dashboards/src/inspect.ts';
import { ALL, expandQuery, type QueryContext } from '../../dashboards/src/macros.ts';
import {
  ALICE,
  type EventRow,
  HOSTILE,
  SEED_FROM,
  SEED_TO,
  seedDeadLetters,
  seedDetections,
  seedEvents,
  seedRevocations,
} from './dashboard-seed.ts';

/** The seeded world: its events, and the rows of the other tables the dashboards read. */
export function seededWorld() {
  const events = seedEvents();
  const detections = seedDetections(events);
  const revocations = seedRevocations(detections);
  const deadLetters = seedDeadLetters();
  const tables: [string, EventRow[]][] = [
    ['detections', detections as unknown as EventRow[]],
    ['revocations', revocations.map((r) => ({ ...r, time: Math.floor(r.time_ms / 1000) }))],
    ['dead_letters', deadLetters],
  ];
  return { events, detections, revocations, deadLetters, tables };
}

export interface Run {
  name: string;
  dashboard: string;
  variables: QueryContext['variables'];
  /** every query must return rows (the seeded world has something for each) */
  rows: boolean;
}

export const RUNS: Run[] = [
  {
    name: 'overview, all tenants',
    dashboard: 'overview.json',
    variables: { tenant: ALL, source: ALL },
    rows: true,
  },
  {
    name: 'overview, picked tenant and sources',
    dashboard: 'overview.json',
    variables: { tenant: ['acme'], source: ['api-gw', 'orders-api'] },
    rows: false,
  },
  {
    name: 'investigation by subject',
    dashboard: 'investigation.json',
    variables: { tenant: 'acme', subject: 'alice', jti: '', family: '' },
    rows: true,
  },
  {
    name: 'investigation by jti only',
    dashboard: 'investigation.json',
    variables: { tenant: 'acme', subject: '', jti: ALICE.stolenJti, family: '' },
    rows: false,
  },
  {
    name: 'investigation of a subject full of quotes and backslashes',
    dashboard: 'investigation.json',
    variables: { tenant: 'acme', subject: HOSTILE.subject, jti: '', family: '' },
    rows: false,
  },
  {
    name: 'investigation by a jti and family full of quotes and backslashes',
    dashboard: 'investigation.json',
    variables: { tenant: "acme\\'", subject: '', jti: HOSTILE.source, family: '\\' },
    rows: false,
  },
  {
    name: 'overview, a source full of quotes and backslashes',
    dashboard: 'overview.json',
    variables: { tenant: ['acme', "x\\' OR 1=1 --"], source: [HOSTILE.source, '\\'] },
    rows: false,
  },
  {
    name: 'investigation with a quote in the subject',
    dashboard: 'investigation.json',
    variables: { tenant: 'acme', subject: "o'brien", jti: '', family: "x' OR 1=1 --" },
    rows: false,
  },
];

export interface Case {
  run: Run;
  query: FoundQuery;
  sql: string;
  /** "[run] where": for messages */
  label: string;
}

export function cases(): Case[] {
  return RUNS.flatMap((run) =>
    allQueries(DASHBOARDS[run.dashboard]!())
      .filter(isClickHouse)
      .map((query) => ({
        run,
        query,
        label: `[${run.name}] ${query.where}`,
        sql: expandQuery(query.text, {
          fromMs: SEED_FROM,
          toMs: SEED_TO,
          intervalS: 60,
          variables: run.variables,
        }),
      })),
  );
}

/** The columns a query must return: declared by the panel, or one for a variable. */
function expected(q: FoundQuery): readonly string[] | 'one' {
  if (q.kind === 'variable') return 'one';
  const columns = expectedColumns(q.text);
  if (columns === undefined) throw new Error(`${q.where}: no declared columns`);
  return columns;
}

/** What is wrong with an answer of `columns` and `rows` rows to the case's query (nothing: []). */
export function answerProblems(c: Case, columns: string[], rows: number): string[] {
  const problems: string[] = [];
  const want = expected(c.query);
  if (want === 'one' ? columns.length !== 1 : columns.join(',') !== want.join(','))
    problems.push(
      `${c.label}: columns ${columns.join(',')}, panel reads ${want === 'one' ? 'one column' : want.join(',')}`,
    );
  if (c.run.rows && rows === 0) problems.push(`${c.label}: no rows`);
  return problems;
}

/** Runs every case's SQL with `run` (answers in ClickHouse's JSON format) and lists what is wrong. */
export async function dashboardQueryProblems(
  run: (sql: string) => Promise<{ meta?: { name: string }[]; data: unknown[] }>,
): Promise<string[]> {
  const problems: string[] = [];
  for (const c of cases()) {
    try {
      const { meta, data } = await run(c.sql);
      problems.push(
        ...answerProblems(
          c,
          (meta ?? []).map((m) => m.name),
          data.length,
        ),
      );
    } catch (err) {
      problems.push(`${c.label}: ${(err as Error).message}\n${c.sql}`);
    }
  }
  return problems;
}

/** What is wrong with the answers of the server at `url` reading `database` (with `settings`). */
export async function dashboardProblemsAt(
  url: string,
  database: string,
  settings: ClickHouseSettings = {},
): Promise<string[]> {
  const reader = createClient({ url, database, request_timeout: 60_000, clickhouse_settings: settings });
  try {
    return await dashboardQueryProblems(async (sql) =>
      (await reader.query({ query: sql, format: 'JSON' })).json(),
    );
  } finally {
    await reader.close();
  }
}
