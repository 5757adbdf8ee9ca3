/** What the benchmarks share: a private ClickHouse + Kafka, the service as a child process, and bench/RESULTS.md. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { startClickHouse, stopClickHouse } from '../infra/clickhouse-server.ts';
import { startKafka, stopKafka } from '../infra/kafka-server.ts';
import { REPO_ROOT } from '../infra/paths.ts';
import { freePort } from '../infra/process.ts';

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
  const [chServer, kafkaServer] = await Promise.all([
    startClickHouse({ dir: `${dir}/clickhouse`, httpPort: ports.http, tcpPort: ports.tcp }),
    startKafka({
      dir: `${dir}/kafka`,
      port: ports.kafka,
      controllerPort: ports.controller,
      version: kafkaVersion,
      partitions: 6,
      heapMb: 1024,
    }),
  ]);
  return {
    clickhouseUrl: chServer.url,
    brokers: kafkaServer.brokers,
    async stop() {
      await Promise.all([stopClickHouse(`${dir}/clickhouse`), stopKafka(`${dir}/kafka`)]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `tokenwatch serve` as a child process (warn-level logs), resolved once /readyz answers 200. */
export async function startService(
  env: Record<string, string>,
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [`${REPO_ROOT}ingest/cli.ts`, 'serve'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      TOKENWATCH_LOG_LEVEL: 'warn',
      ...env,
      TOKENWATCH_PORT: String(port),
      TOKENWATCH_HOST: '127.0.0.1',
      TOKENWATCH_API_KEYS: `acme:${SERVICE_API_KEY}`,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}`);
    if (
      await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { url, child };
    await sleep(200);
  }
  throw new Error('service did not become ready');
}

export async function stopService(child: ChildProcess) {
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  await exited;
}

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

/** Replaces (or appends) the `## <title>` section of bench/RESULTS.md and writes bench/results/<name>.json. */
export function writeResults(title: string, section: string, name: string, json: unknown) {
  mkdirSync(`${REPO_ROOT}bench/results`, { recursive: true });
  writeFileSync(`${REPO_ROOT}bench/results/${name}.json`, `${JSON.stringify(json, null, 2)}\n`);
  const file = `${REPO_ROOT}bench/RESULTS.md`;
  let doc: string;
  try {
    doc = readFileSync(file, 'utf8');
  } catch {
    doc =
      '# Benchmark results\n\nEach figure beside the baseline it was measured against in the same run (these machines are noisy: compare ratios).\n\n';
  }
  const start = doc.indexOf(`## ${title}\n`);
  if (start === -1) doc = `${doc.trimEnd()}\n\n${section}`;
  else {
    const end = doc.indexOf('\n## ', start + 1);
    doc = doc.slice(0, start) + section + (end === -1 ? '' : doc.slice(end + 1));
  }
  writeFileSync(file, `${doc.trimEnd()}\n`);
}
