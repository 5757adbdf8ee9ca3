/**
 * What the benchmarks share: a private ClickHouse + Kafka, the service as a child process, and their
 * results — a section of tools/bench/RESULTS.md and tools/bench/results/<name>.json each (BENCH_OUTPUT_DIR: elsewhere).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stopClickHouse } from '../local-stack/clickhouse-server.ts';
import { stopKafka } from '../local-stack/kafka-server.ts';
import { REPO_ROOT } from '../local-stack/paths.ts';
import { freePort, stopChild, waitUntilReady } from '../local-stack/process.ts';
import { startLocalServers } from '../local-stack/servers.ts';

export const SERVICE_API_KEY = 'bench-key-0123456789abcdef';

export interface BenchStack {
  clickhouseUrl: string;
  brokers: string;
  stop(): Promise<void>;
}

/** A ClickHouse and a Kafka on free loopback ports in a temporary folder (removed by `stop`). */
export async function startBenchStack(kafkaVersion: string, log: (m: string) => void): Promise<BenchStack> {
  const dir = mkdtempSync(`${tmpdir()}/tokenwatch-bench-`);
  const ports = {
    http: await freePort(),
    tcp: await freePort(),
    kafka: await freePort(),
    controller: await freePort(),
  };
  log(`starting ClickHouse and Kafka ${kafkaVersion} in ${dir}`);
  const { clickhouse: chServer, kafka: kafkaServer } = await startLocalServers({
    clickhouse: { dir: `${dir}/clickhouse`, httpPort: ports.http, tcpPort: ports.tcp },
    kafka: {
      dir: `${dir}/kafka`,
      port: ports.kafka,
      controllerPort: ports.controller,
      version: kafkaVersion,
      partitions: 6,
      heapMb: 1024,
    },
    log,
  });
  return {
    clickhouseUrl: chServer.url,
    brokers: kafkaServer.brokers,
    async stop() {
      await Promise.all([stopClickHouse(`${dir}/clickhouse`), stopKafka(`${dir}/kafka`)]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `tokenwatch serve` as a child process (warn-level logs), resolved once /readyz answers 200.
 * BENCH_SERVICE_NODE_OPTIONS: its NODE_OPTIONS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it.
 */
export async function startService(
  env: Record<string, string>,
  /** where it listens (default: a free port) — for peers that must know it before it starts */
  listenPort?: number,
): Promise<{ url: string; child: ChildProcess }> {
  const port = listenPort ?? (await freePort());
  const child = spawn(process.execPath, [`${REPO_ROOT}service/cli.ts`, 'serve'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      ...(process.env['BENCH_SERVICE_NODE_OPTIONS'] !== undefined
        ? { NODE_OPTIONS: process.env['BENCH_SERVICE_NODE_OPTIONS'] }
        : {}),
      TOKENWATCH_LOG_LEVEL: 'warn',
      // Benchmarks measure capacity, not the per-tenant budgets (a bench that wants them sets them).
      TOKENWATCH_TENANT_EVENTS_PER_SECOND: '0',
      TOKENWATCH_TENANT_BYTES_PER_SECOND: '0',
      TOKENWATCH_HTTP_REQUESTS_PER_SECOND_PER_KEY: '0',
      ...env,
      TOKENWATCH_PORT: String(port),
      TOKENWATCH_HOST: '127.0.0.1',
      TOKENWATCH_API_KEYS: env['TOKENWATCH_API_KEYS'] ?? `acme:${SERVICE_API_KEY}`,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(url, child, 'the service', 120_000);
  return { url, child };
}

export const stopService = stopChild;

export const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** The q-quantile (nearest rank) of numbers. */
export const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
};

export const machine = (extra: string) => `${cpus().length} cores, Node ${process.versions.node}, ${extra}`;

/** One of a benchmark's few most important figures, beside the baseline it was measured against in the same run. */
export interface Headline {
  figure: string;
  /** NaN (null in the JSON) where nothing was measured, e.g. no probe found */
  value: number;
  unit: string;
  /** what the baseline is, e.g. "bare jose jwtVerify" */
  baseline: string;
  /** the baseline's figure, in `unit` */
  baselineValue: number;
  /** value ÷ baselineValue; null where that is not a number (baseline 0 or not measured) */
  ratio: number | null;
  note?: string;
}

/** A headline figure; `ratio` defaults to value ÷ baselineValue (pass the bench's own, e.g. a median of per-round ratios). */
export function headline(h: Omit<Headline, 'ratio'> & { ratio?: number }): Headline {
  const ratio = h.ratio ?? h.value / h.baselineValue;
  const figure: Headline = {
    figure: h.figure,
    value: h.value,
    unit: h.unit,
    baseline: h.baseline,
    baselineValue: h.baselineValue,
    ratio: Number.isFinite(ratio) ? ratio : null,
  };
  if (h.note !== undefined) figure.note = h.note;
  return figure;
}

/** What every benchmark writes to tools/bench/results/<name>.json: its headline figures, then anything else. */
export interface BenchResults {
  headline: Headline[];
  [key: string]: unknown;
}

/** Where results go: BENCH_OUTPUT_DIR (RESULTS.md and results/*.json inside it; relative to the repository), by default tools/bench/. */
export const OUTPUT_DIR = resolve(REPO_ROOT, process.env['BENCH_OUTPUT_DIR'] ?? 'tools/bench');
export const RESULTS_MD = join(OUTPUT_DIR, 'RESULTS.md');
export const resultsJson = (name: string) => join(OUTPUT_DIR, 'results', `${name}.json`);

const RESULTS_PREAMBLE =
  '# Benchmark results\n\nEach figure beside the baseline it was measured against in the same run (these machines are noisy: compare ratios).\n\n';

/** Where `## <title>` starts in a markdown document (at the start of a line), or -1. */
function sectionStart(doc: string, title: string): number {
  const heading = `## ${title}\n`;
  if (doc.startsWith(heading)) return 0;
  const at = doc.indexOf(`\n${heading}`);
  return at === -1 ? -1 : at + 1;
}

/** Where the first `## ` section starts, or -1 (a document of preamble only). */
function firstSectionStart(doc: string): number {
  if (doc.startsWith('## ')) return 0;
  const at = doc.indexOf('\n## ');
  return at === -1 ? -1 : at + 1;
}

/**
 * `doc` with its `## <title>` section replaced by `section` (up to the next `## ` heading); a new
 * section goes after the last one, or with `position: 'first'` before the first one (after the preamble).
 */
export function withSection(
  doc: string,
  title: string,
  section: string,
  position: 'first' | 'last' = 'last',
): string {
  const body = `${section.trimEnd()}\n\n`;
  const start = sectionStart(doc, title);
  let out: string;
  if (start !== -1) {
    const end = doc.indexOf('\n## ', start);
    out = doc.slice(0, start) + body + (end === -1 ? '' : doc.slice(end + 1));
  } else {
    const first = position === 'first' ? firstSectionStart(doc) : -1;
    if (first !== -1) out = doc.slice(0, first) + body + doc.slice(first);
    else out = doc.trim() === '' ? body : `${doc.trimEnd()}\n\n${body}`;
  }
  return `${out.trimEnd()}\n`;
}

/** Replaces (or adds) the `## <title>` section of RESULTS.md. */
export function writeSection(title: string, section: string, position: 'first' | 'last' = 'last') {
  let doc: string;
  try {
    doc = readFileSync(RESULTS_MD, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    doc = RESULTS_PREAMBLE;
  }
  mkdirSync(OUTPUT_DIR, { recursive: true });
  writeFileSync(RESULTS_MD, withSection(doc, title, section, position));
}

/** Writes results/<name>.json. */
export function writeJson(name: string, json: unknown) {
  mkdirSync(join(OUTPUT_DIR, 'results'), { recursive: true });
  writeFileSync(resultsJson(name), `${JSON.stringify(json, null, 2)}\n`);
}

/** Replaces (or appends) the `## <title>` section of RESULTS.md and writes results/<name>.json. */
export function writeResults(title: string, section: string, name: string, json: BenchResults) {
  writeJson(name, json);
  writeSection(title, section);
}
