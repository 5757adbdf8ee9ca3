/**
 * The local stack's first run, as a new user meets it, through the real `node tools/local-stack/stack.ts`:
 * a clean state folder and a clean tools folder (Kafka's jars resolved — from Maven's ~/.m2 cache
 * where it has them — before any server starts) with a ClickHouse that is slow to start (a wrapper
 * that sleeps 40 s before exec'ing clickhouse-server: the stack must wait and say so); a port taken
 * while ClickHouse already runs (the start fails, names the port and leaves that ClickHouse be); a
 * ClickHouse that fails (the start stops what it started, shows the log lines and says what to do);
 * and a stale pid file (nothing is killed). Each checks that no process of the run is left.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pingClickHouse } from '../../tools/local-stack/clickhouse-server.ts';
import { REPO_ROOT } from '../../tools/local-stack/paths.ts';
import { isRunning, procInfo } from '../../tools/local-stack/proc.ts';
import { freePort } from '../../tools/local-stack/process.ts';

const SLOW_SECONDS = 40;
const root = mkdtempSync(`${tmpdir()}/tokenwatch-first-run-`);
const realClickHouse = execFileSync('sh', ['-c', 'command -v clickhouse-server'], {
  encoding: 'utf8',
}).trim();

/** A stand-in for the ClickHouse binary: `body` in sh, then (if `exec`) the real server with the same arguments. */
function wrapper(name: string, body: string, exec: boolean): string {
  const path = `${root}/${name}`;
  writeFileSync(path, `#!/bin/sh\n${body}\n${exec ? `exec ${realClickHouse} "$@"\n` : ''}`);
  chmodSync(path, 0o755);
  return path;
}

interface Ports {
  http: number;
  tcp: number;
  kafka: number;
  controller: number;
}

/** `node tools/local-stack/stack.ts <command>` with its own state and tools folders and ports; its output and exit code. */
function stack(command: string, state: string, ports: Ports, clickhouseBin: string) {
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('TOKENWATCH_')),
  );
  Object.assign(env, {
    TOKENWATCH_STATE_DIR: state,
    TOKENWATCH_TOOLS_DIR: `${root}/tools`,
    TOKENWATCH_CLICKHOUSE_SERVER_BIN: clickhouseBin,
    TOKENWATCH_STACK_CLICKHOUSE_HTTP_PORT: String(ports.http),
    TOKENWATCH_STACK_CLICKHOUSE_TCP_PORT: String(ports.tcp),
    TOKENWATCH_STACK_KAFKA_PORT: String(ports.kafka),
    TOKENWATCH_STACK_KAFKA_CONTROLLER_PORT: String(ports.controller),
    TOKENWATCH_STACK_KAFKA_VERSION: '3.9.2',
  });
  const began = Date.now();
  return new Promise<{ code: number | null; output: string; seconds: number }>((resolve) => {
    const child = spawn(process.execPath, [`${REPO_ROOT}tools/local-stack/stack.ts`, command], { env });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.on('close', (code) => resolve({ code, output, seconds: (Date.now() - began) / 1000 }));
  });
}

/** Processes of this test's run: their command line names the temporary folder, or they are in `groups`. */
function leftovers(groups: number[] = []): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .map((p) => procInfo(Number(p)))
    .filter((info) => info !== undefined && info.state !== 'Z')
    .filter((info) => info!.cmdline.some((a) => a.includes(root)) || groups.includes(info!.pgrp))
    .map((info) => `${info!.pid} ${info!.cmdline.join(' ')}`);
}

const pidIn = (file: string) => Number(readFileSync(file, 'utf8').split(' ')[0]);

const listen = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });

const allPorts = async (): Promise<Ports> => ({
  http: await freePort(),
  tcp: await freePort(),
  kafka: await freePort(),
  controller: await freePort(),
});

describe('the first run of the local stack', () => {
  const state = `${root}/state`;
  let ports: Ports;
  const slow = wrapper(
    'slow-clickhouse.sh',
    `echo "slow wrapper: sleeping ${SLOW_SECONDS} s before clickhouse-server"\nsleep ${SLOW_SECONDS}`,
    true,
  );

  beforeAll(async () => {
    ports = await allPorts();
  });

  afterAll(async () => {
    await stack('down', state, ports, slow);
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it('resolves Kafka first, then waits for a slow ClickHouse, saying what it waits for, and comes up', async () => {
    expect(existsSync(`${root}/tools`)).toBe(false);
    const up = await stack('up', state, ports, slow);
    expect(up.code, up.output).toBe(0);
    expect(up.seconds).toBeGreaterThanOrEqual(SLOW_SECONDS);
    const at = (text: string) => {
      const i = up.output.indexOf(text);
      expect(i, `"${text}" in:\n${up.output}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    // the jars before any server, so that Maven and ClickHouse do not share the two cores
    expect(at('resolving Apache Kafka 3.9.2 jars from Maven Central')).toBeLessThan(
      at('Kafka 3.9.2 jars resolved'),
    );
    expect(at('Kafka 3.9.2 jars resolved')).toBeLessThan(
      at(`starting ClickHouse at http://127.0.0.1:${ports.http} (first start)`),
    );
    expect(existsSync(`${root}/tools/kafka-3.9.2/libs/kafka_2.13-3.9.2.jar`)).toBe(true);
    const progress = up.output.match(
      /waiting for ClickHouse at \S+ \(first start: creating its system tables; pid \d+\): \d+ s so far, not answering yet/g,
    );
    expect(progress?.length ?? 0, up.output).toBeGreaterThanOrEqual(Math.floor(SLOW_SECONDS / 5) - 2);
    expect(up.output).toContain('last log line: slow wrapper: sleeping');
    expect(up.output).toMatch(/stack up in \d+\.\d s/);
    expect(readFileSync(`${state}/stack.env`, 'utf8')).toContain(
      `TOKENWATCH_CLICKHOUSE_URL=http://127.0.0.1:${ports.http}`,
    );
    expect(await pingClickHouse(`http://127.0.0.1:${ports.http}`)).toBe(true);
    // pid and start time, of the process that is now the real server (the wrapper exec'd it)
    const [pid, startTime] = readFileSync(`${state}/stack/clickhouse/clickhouse.pid`, 'utf8')
      .trim()
      .split(' ');
    expect(procInfo(Number(pid))?.startTime).toBe(startTime);
    expect(procInfo(Number(pid))?.cmdline).toEqual([
      realClickHouse,
      `--config-file=${state}/stack/clickhouse/config.xml`,
    ]);
    const status = await stack('status', state, ports, slow);
    expect(status.output).toContain(`clickhouse: up (pid ${pid}`);
    expect(status.output).toContain('kafka:      up (pid');
  }, 240_000);

  it('a port taken by another program fails the start, named, and leaves the ClickHouse that ran before', async () => {
    const chPid = pidIn(`${state}/stack/clickhouse/clickhouse.pid`);
    const kafkaPid = pidIn(`${state}/stack/kafka/kafka.pid`);
    process.kill(-kafkaPid, 'SIGTERM'); // Kafka gone (as after a crash), its pid file stale
    while (isRunning(kafkaPid)) await new Promise((r) => setTimeout(r, 100));
    const squatter = await listen(ports.kafka);
    try {
      const up = await stack('up', state, ports, slow);
      expect(up.code, up.output).toBe(1);
      expect(up.output).toContain(`Kafka: ignoring a stale pid file: no process ${kafkaPid} runs`);
      expect(up.output).toContain(
        `stack up failed: Kafka broker port ${ports.kafka} on 127.0.0.1 is in use by another program`,
      );
      expect(up.output).toContain(
        `What to do:\n  - see what listens there: ss -ltnp 'sport = :${ports.kafka}'`,
      );
      expect(up.output).toContain(`TOKENWATCH_STACK_KAFKA_PORT (${ports.kafka})`);
      expect(up.output).not.toContain('stopped ClickHouse again');
      expect(pidIn(`${state}/stack/clickhouse/clickhouse.pid`)).toBe(chPid);
      expect(await pingClickHouse(`http://127.0.0.1:${ports.http}`)).toBe(true);
    } finally {
      squatter.close();
    }
    const down = await stack('down', state, ports, slow);
    expect(down.output).toContain('stack down (ClickHouse stopped, Kafka not stopped: no pid file)');
    expect(leftovers([chPid, kafkaPid])).toEqual([]);
  }, 120_000);

  it('a ClickHouse that fails: the start stops what it started, shows its log lines and says what to do', async () => {
    const failing = wrapper(
      'failing-clickhouse.sh',
      'echo "simulated failure: cannot open the data folder"\necho "second line of the failure"\nexit 1',
      false,
    );
    const fresh = `${root}/state-failing`;
    const up = await stack('up', fresh, await allPorts(), failing);
    expect(up.code, up.output).toBe(1);
    expect(up.seconds).toBeLessThan(60);
    expect(up.output).toMatch(/stack up failed: ClickHouse at \S+ exited during start-up \(exit code 1\)/);
    expect(up.output).toContain(
      `--- last lines of ${fresh}/stack/clickhouse/log/stdout.log (nothing new in error.log) ---\n` +
        'simulated failure: cannot open the data folder\nsecond line of the failure\n---',
    );
    expect(up.output).toContain(`What to do:\n  - its logs: ${fresh}/stack/clickhouse/log/`);
    expect(up.output).toContain('then run the command again: this attempt stopped what it had started');
    // Kafka started beside it: stopped again, nothing of the run left, no pid files
    expect(leftovers()).toEqual([]);
    expect(existsSync(`${fresh}/stack/kafka/kafka.pid`)).toBe(false);
    expect(existsSync(`${fresh}/stack/clickhouse/clickhouse.pid`)).toBe(false);
    expect(existsSync(`${fresh}/stack.env`)).toBe(false);
  }, 120_000);

  it('stack down with a stale pid file naming an unrelated process kills nothing', async () => {
    const stale = `${root}/state-stale`;
    const unrelated = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    try {
      execFileSync('mkdir', ['-p', `${stale}/stack/clickhouse`]);
      writeFileSync(`${stale}/stack/clickhouse/clickhouse.pid`, `${unrelated.pid}\n`); // an old pid-only file
      const down = await stack('down', stale, await allPorts(), slow);
      expect(down.code).toBe(0);
      expect(down.output).toContain(
        `ClickHouse not stopped: stale pid file ${stale}/stack/clickhouse/clickhouse.pid removed: process ${unrelated.pid} is \`sleep 60\``,
      );
      expect(isRunning(unrelated.pid!)).toBe(true);
      expect(existsSync(`${stale}/stack/clickhouse/clickhouse.pid`)).toBe(false);
    } finally {
      unrelated.kill('SIGKILL');
    }
  }, 30_000);
});
