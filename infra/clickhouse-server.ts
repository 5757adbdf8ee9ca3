/**
 * A real ClickHouse server for local use and tests: Debian's `clickhouse-server` package
 * (installed with apt-get when missing and we are root), configured by a small generated config,
 * listening on loopback only, with all data under one folder.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isAlive, readPid, spawnDetached, stopPidFile, waitFor } from './process.ts';

export interface ClickHouseServerOptions {
  dir: string;
  httpPort: number;
  tcpPort: number;
}

export interface RunningClickHouse {
  url: string;
  pidFile: string;
  logFile: string;
}

function which(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Path of clickhouse-server, installing Debian's package when it is missing. */
export function ensureClickHouseInstalled(log: (msg: string) => void = console.error): string {
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
</yandex>
`;
}

const USERS_XML = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;

export async function pingClickHouse(url: string): Promise<boolean> {
  const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
  return res.ok;
}

/** Starts (or finds already running) a ClickHouse server with its data in `o.dir`. */
export async function startClickHouse(o: ClickHouseServerOptions): Promise<RunningClickHouse> {
  const binary = ensureClickHouseInstalled();
  for (const sub of ['data', 'tmp', 'log', 'user_files', 'format_schemas'])
    mkdirSync(`${o.dir}/${sub}`, { recursive: true });
  const url = `http://127.0.0.1:${o.httpPort}`;
  const pidFile = `${o.dir}/clickhouse.pid`;
  const logFile = `${o.dir}/log/stdout.log`;
  const pid = readPid(pidFile);
  if (pid !== undefined && isAlive(pid) && (await pingClickHouse(url).catch(() => false))) {
    return { url, pidFile, logFile };
  }
  writeFileSync(`${o.dir}/config.xml`, configXml(o));
  if (!existsSync(`${o.dir}/users.xml`)) writeFileSync(`${o.dir}/users.xml`, USERS_XML);
  spawnDetached(binary, [`--config-file=${o.dir}/config.xml`], logFile, pidFile);
  await waitFor(`ClickHouse at ${url}`, () => pingClickHouse(url), 30_000, `${o.dir}/log/error.log`);
  return { url, pidFile, logFile };
}

export async function stopClickHouse(dir: string): Promise<boolean> {
  return stopPidFile(`${dir}/clickhouse.pid`, 15_000);
}
