/**
 * `npm run bench`: every benchmark in turn, each in its own process (each writes its own section of
 * tools/bench/RESULTS.md and tools/bench/results/<name>.json, its `headline` figures included), then one summary
 * of those figures, each beside its same-run baseline: the "Summary (npm run bench)" section at the
 * top of RESULTS.md, tools/bench/results/summary.json, and the table on stdout. A benchmark that fails is
 * a row of the summary, the others still run, and the run exits 1. Sizes: the BENCH_* variables
 * (docs/benchmarks.md); BENCH_OUTPUT_DIR writes everything elsewhere.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { REPO_ROOT } from '../local-stack/paths.ts';
import {
  type BenchOutcome,
  formatDuration,
  headlinesOf,
  SUMMARY_TITLE,
  type SummaryContext,
  summaryJson,
  summarySection,
  summaryTable,
} from './summary.ts';
import { type Headline, machine, resultsJson, writeJson, writeSection } from './support.ts';

const BENCHMARKS = ['ingest', 'detect', 'capacity', 'respond', 'sdk', 'dashboards', 'hostile'];
const log = (msg: string) => console.error(`[bench] ${msg}`);

/** The headline figures of the results JSON `bench` wrote since `sinceMs`; throws saying what is missing. */
function freshHeadlines(bench: string, sinceMs: number): Headline[] {
  const file = resultsJson(bench);
  let writtenMs: number;
  try {
    writtenMs = statSync(file).mtimeMs;
  } catch {
    throw new Error(`exited 0 but wrote no ${file} (does it call writeResults?)`);
  }
  if (writtenMs < sinceMs)
    throw new Error(
      `exited 0 but did not rewrite ${file} (last written ${new Date(writtenMs).toISOString()}): its figures would be an earlier run's`,
    );
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file} is not JSON: ${(err as Error).message}`);
  }
  return headlinesOf(json, file);
}

/** Runs tools/bench/<bench>.ts in its own process (output passed through) and reads back its headline figures. */
function runBenchmark(bench: string, index: number): BenchOutcome {
  log(`${bench} (${index + 1}/${BENCHMARKS.length})…`);
  const startedMs = Date.now();
  const child = spawnSync(process.execPath, [`${REPO_ROOT}tools/bench/${bench}.ts`], { stdio: 'inherit' });
  const seconds = (Date.now() - startedMs) / 1000;
  let failure: string | undefined;
  let headline: Headline[] = [];
  if (child.error !== undefined) failure = `could not start: ${child.error.message}`;
  else if (child.status !== 0) failure = `exited with ${child.status ?? child.signal}`;
  else {
    try {
      headline = freshHeadlines(bench, startedMs);
    } catch (err) {
      failure = (err as Error).message;
    }
  }
  log(`${bench} ${failure === undefined ? 'done' : `FAILED (${failure})`} in ${formatDuration(seconds)}`);
  return failure === undefined ? { bench, seconds, headline } : { bench, seconds, failure, headline };
}

/** The command as run: the BENCH_* variables set, then `npm run bench`. */
function commandLine(): string {
  const vars = Object.entries(process.env)
    .filter(([name]) => name.startsWith('BENCH_'))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `${name}=${value}`);
  return [...vars, 'npm run bench'].join(' ');
}

function main() {
  const started = new Date();
  const outcomes = BENCHMARKS.map(runBenchmark);
  const ctx: SummaryContext = {
    command: commandLine(),
    date: started.toISOString().slice(0, 16).replace('T', ' '),
    machine: machine(`${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GB RAM`),
  };
  writeSection(SUMMARY_TITLE, summarySection(outcomes, ctx), 'first');
  writeJson('summary', summaryJson(outcomes, ctx));
  console.log(`\n${summaryTable(outcomes)}\n`);
  const failed = outcomes.filter((o) => o.failure !== undefined);
  if (failed.length > 0) {
    log(`${failed.length} of ${BENCHMARKS.length} failed: ${failed.map((o) => o.bench).join(', ')}`);
    process.exit(1);
  }
}

main();
