/**
 * The summary `npm run bench` writes: every benchmark's headline figures (from the JSON it wrote in
 * this run), each beside the baseline it was measured against in the same run, in one table.
 */
import type { Headline } from './support.ts';

export const SUMMARY_TITLE = 'Summary (npm run bench)';

/** One benchmark's part of a `npm run bench`: its headline figures, or what went wrong. */
export interface BenchOutcome {
  bench: string;
  seconds: number;
  /** set when the benchmark failed or its results could not be read; its row says so */
  failure?: string;
  headline: Headline[];
}

export interface SummaryContext {
  /** e.g. `BENCH_EVENTS=20000 npm run bench` */
  command: string;
  /** UTC, e.g. 2026-11-22 23:40 */
  date: string;
  machine: string;
}

const isNumberOrNull = (x: unknown) => x === null || typeof x === 'number';

/** A headline figure as read back from JSON (NaN was written as null), or why it is not one. */
function checkHeadline(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null) return 'not an object';
  const h = x as Record<string, unknown>;
  for (const key of ['figure', 'unit', 'baseline'])
    if (typeof h[key] !== 'string') return `"${key}" is not a string`;
  for (const key of ['value', 'baselineValue', 'ratio'])
    if (!isNumberOrNull(h[key])) return `"${key}" is not a number or null`;
  if (h['note'] !== undefined && typeof h['note'] !== 'string') return '"note" is not a string';
  return undefined;
}

/** The `headline` array of a benchmark's results JSON; throws saying what is wrong with it. */
export function headlinesOf(json: unknown, file: string): Headline[] {
  const list = (json as { headline?: unknown } | null)?.headline;
  if (!Array.isArray(list) || list.length === 0)
    throw new Error(
      `${file} has no "headline" array: the benchmark must pass its headline figures to writeResults (see tools/bench/support.ts)`,
    );
  list.forEach((h, i) => {
    const problem = checkHeadline(h);
    if (problem !== undefined) throw new Error(`${file}: headline[${i}]: ${problem}`);
  });
  return (list as Headline[]).map((h) => ({
    ...h,
    value: h.value ?? Number.NaN,
    baselineValue: h.baselineValue ?? Number.NaN,
  }));
}

/** A number as a table shows it: thousands separated, fewer decimals the larger it is; – for none. */
export function formatNumber(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '–';
  const decimals = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return x.toLocaleString('en', { maximumFractionDigits: decimals });
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function outcomeRows(o: BenchOutcome): string[] {
  if (o.failure !== undefined)
    return [`| ${o.bench} | **FAILED**: ${cell(o.failure)} | – | – | – | see the run's output (stderr) |`];
  return o.headline.map(
    (h) =>
      `| ${o.bench} | ${cell(h.figure)} | ${formatNumber(h.value)} ${cell(h.unit)} | ` +
      `${cell(h.baseline)}: ${formatNumber(h.baselineValue)} ${cell(h.unit)} | ` +
      `${h.ratio === null ? '–' : h.ratio.toFixed(2)} | ${cell(h.note ?? '')} |`,
  );
}

/** The summary table: one row per headline figure, one per failed benchmark. */
export function summaryTable(outcomes: BenchOutcome[]): string {
  return [
    '| benchmark | figure | value | baseline (same run) | ratio | note |',
    '|---|---|---:|---|---:|---|',
    ...outcomes.flatMap(outcomeRows),
  ].join('\n');
}

export const formatDuration = (seconds: number) =>
  seconds < 60 ? `${Math.round(seconds)} s` : `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;

/** The `## Summary (npm run bench)` section of RESULTS.md. */
export function summarySection(outcomes: BenchOutcome[], ctx: SummaryContext): string {
  const total = outcomes.reduce((s, o) => s + o.seconds, 0);
  const failed = outcomes.filter((o) => o.failure !== undefined).map((o) => o.bench);
  return [
    `## ${SUMMARY_TITLE}`,
    '',
    `\`${ctx.command}\` on ${ctx.date} UTC; ${ctx.machine}. ` +
      'Each benchmark in turn, each figure beside the baseline that benchmark measured in the same run; ' +
      'ratio = value ÷ baseline. The sections below have the details (and each its own machine line).',
    '',
    summaryTable(outcomes),
    '',
    `Time: ${outcomes.map((o) => `${o.bench} ${formatDuration(o.seconds)}`).join(', ')}; ` +
      `${formatDuration(total)} in all.${failed.length > 0 ? ` **Failed: ${failed.join(', ')}.**` : ''}`,
    '',
  ].join('\n');
}

/** tools/bench/results/summary.json. */
export function summaryJson(outcomes: BenchOutcome[], ctx: SummaryContext) {
  return {
    ...ctx,
    failed: outcomes.filter((o) => o.failure !== undefined).map((o) => o.bench),
    benchmarks: outcomes,
  };
}
