/**
 * A real ClickHouse server for local use and tests: Debian's `clickhouse-server` package
 * (installed with apt-get when missing and we are root; TOKENWATCH_CLICKHOUSE_SERVER_BIN runs
 * another binary or a wrapper), configured by a small generated config, listening on loopback only,
 * with all data under one folder. Its start is followed (tools/local-stack/start-wait.ts), not timed out.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { launchService } from './launch.ts';
import { checkPidFile, type PidCheck } from './pid-file.ts';
import { type StopResult, spawnDetached, stopPidFile } from './process.ts';
import { markLogs } from './start-error.ts';

export interface ClickHouseServerOptions {
  dir: string;
  httpPort: number;
  tcpPort: number;
  /** where progress lines go (default stderr) */
  log?: (msg: string) => void;
  /** aborts the start; a server this call started is stopped again */
  signal?: AbortSignal | undefined;
}

export interface RunningClickHouse {
  url: string;
  pidFile: string;
  logFile: string;
  /** false when it was running already (this call did not start it) */
  startedNow: boolean;
}

function which(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Path of the ClickHouse server to run: TOKENWATCH_CLICKHOUSE_SERVER_BIN when set, else
 * clickhouse-server on PATH, installing Debian's package when it is missing.
 */
export function ensureClickHouseInstalled(log: (msg: string) => void = console.error): string {
  const override = process.env['TOKENWATCH_CLICKHOUSE_SERVER_BIN'];
  if (override) {
    try {
      accessSync(override, constants.X_OK);
    } catch {
      throw new Error(
        `TOKENWATCH_CLICKHOUSE_SERVER_BIN=${override} is not an executable file: point it at clickhouse-server ` +
          '(or a script that runs it with its arguments), or unset it to use the one on PATH',
      );
    }
    return override;
  }
  const found = which('clickhouse-server');
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new Error(
      'clickhouse-server is not installed. Install it with: sudo apt-get install -y clickhouse-server ' +
        '(or point TOKENWATCH_CLICKHOUSE_URL at a server you run).',
    );
  }
  log('installing clickhouse-server with apt-get (Debian package)…');
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', 'clickhouse-server'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const installed = which('clickhouse-server');
  if (!installed) throw new Error('apt-get installed clickhouse-server but it is not on PATH');
  return installed;
}

function configXml(o: ClickHouseServerOptions): string {
  const d = o.dir;
  return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${d}/log/server.log</log><errorlog>${d}/log/error.log</errorlog><size>10M</size><count>2</count></logger>
  <http_port>${o.httpPort}</http_port>
  <tcp_port>${o.tcpPort}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${d}/data/</path>
  <tmp_path>${d}/tmp/</tmp_path>
  <user_files_path>${d}/user_files/</user_files_path>
  <format_schema_path>${d}/format_schemas/</format_schema_path>
  <users_config>${d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>1000</flush_interval_milliseconds></query_log>
</yandex>
`;
}

/** Grafana's ClickHouse user on the local stack (the datasource's user; password as in docker-compose.yml). */
export const GRAFANA_USER = { user: 'grafana', password: 'grafana' } as const;

/**
 * The users: `default` (tokenwatch, the tests), and `grafana`, read-only for the dashboards:
 * `readonly=2` (reads, and the settings the Grafana plugin sends; no writes, no DDL, and `readonly`
 * itself cannot be changed) and `allow_ddl=0`, which also turns table functions off (`url()`,
 * `file()`, `remote()`…). 18.16 defines users here only; current ClickHouse gets the same from
 * SQL (tools/local-stack/clickhouse-grafana-user.sql, run by docker-compose.yml).
 */
const USERS_XML = `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default><max_memory_usage>4000000000</max_memory_usage></default>
    <dashboards><readonly>2</readonly><allow_ddl>0</allow_ddl><max_memory_usage>4000000000</max_memory_usage><max_execution_time>60</max_execution_time></dashboards>
  </profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default>
    <${GRAFANA_USER.user}><password>${GRAFANA_USER.password}</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>dashboards</profile><quota>default</quota></${GRAFANA_USER.user}>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;

export async function pingClickHouse(url: string): Promise<boolean> {
  return (await clickHouseAnswers(url)) === true;
}

/** true once ClickHouse answers /ping; otherwise why not. */
async function clickHouseAnswers(url: string): Promise<true | string> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    return res.ok || `/ping answered ${res.status}`;
  } catch (err) {
    const cause = (err as Error).cause;
    return `not answering yet (${cause instanceof Error ? cause.message : (err as Error).message})`;
  }
}

/** How long it gets to exit on SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 15_000;

/** The argument that names this server in its command line (what its pid file is checked against). */
const identity = (dir: string) => `--config-file=${dir}/config.xml`;

/** Starts (or finds already running) a ClickHouse server with its data in `o.dir`. */
export async function startClickHouse(o: ClickHouseServerOptions): Promise<RunningClickHouse> {
  const log = o.log ?? console.error;
  const dir = resolve(o.dir);
  const binary = ensureClickHouseInstalled(log);
  for (const sub of ['data', 'tmp', 'log', 'user_files', 'format_schemas'])
    mkdirSync(`${dir}/${sub}`, { recursive: true });
  const url = `http://127.0.0.1:${o.httpPort}`;
  const pidFile = `${dir}/clickhouse.pid`;
  const logFile = `${dir}/log/stdout.log`;
  const { startedNow } = await launchService({
    name: 'ClickHouse',
    what: `ClickHouse at ${url}`,
    pidFile,
    identity: identity(dir),
    probe: () => clickHouseAnswers(url),
    logs: markLogs([`${dir}/log/error.log`, logFile, `${dir}/log/server.log`]),
    dataDir: `${dir}/data`,
    firstStart: !existsSync(`${dir}/data/metadata`),
    firstStartDoing: 'first start: creating its system tables',
    ports: [
      ['ClickHouse HTTP', o.httpPort],
      ['ClickHouse native (TCP)', o.tcpPort],
    ],
    advice: [
      `its logs: ${dir}/log/ (error.log, stdout.log, server.log)`,
      `run it by hand to see it start: ${binary} ${identity(dir)}`,
    ],
    spawnedAdvice: [`if its data is damaged, remove ${dir}/data to start empty (its tables go with it)`],
    prepare: () => {
      writeFileSync(`${dir}/config.xml`, configXml({ ...o, dir }));
      writeFileSync(`${dir}/users.xml`, USERS_XML); // generated: the users above, every start
    },
    spawn: () => spawnDetached(binary, [identity(dir)], logFile, pidFile),
    stopGraceMs: STOP_GRACE_MS,
    log,
    signal: o.signal,
  });
  return { url, pidFile, logFile, startedNow };
}

/** Stops the server with its data in `dir`: SIGTERM, SIGKILL after `graceMs` (0: killed at once). */
export async function stopClickHouse(dir: string, graceMs = STOP_GRACE_MS): Promise<StopResult> {
  const abs = resolve(dir);
  return stopPidFile(`${abs}/clickhouse.pid`, identity(abs), graceMs);
}

/** Whether `dir`'s pid file names its running ClickHouse (a stale one is removed). */
export function clickHousePidCheck(dir: string): PidCheck {
  const abs = resolve(dir);
  return checkPidFile(`${abs}/clickhouse.pid`, identity(abs));
}
