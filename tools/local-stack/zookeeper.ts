/**
 * A real standalone Apache ZooKeeper for local use and tests — what ClickHouse's Replicated* tables
 * and ON CLUSTER DDL coordinate through: its jars resolved from Maven Central
 * (tools/local-stack/zookeeper/pom.xml), run with the machine's Java on a loopback port, all its
 * data in one folder. Its start is followed (tools/local-stack/start-wait.ts), not timed out.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { javaArgs } from './java.ts';
import { launchService } from './launch.ts';
import { ensureMavenJars, type MavenJars } from './maven-jars.ts';
import { REPO_ROOT, TOOLS_DIR } from './paths.ts';
import { type StopResult, spawnDetached, stopPidFile } from './process.ts';
import { markLogs } from './start-error.ts';

export const DEFAULT_ZOOKEEPER_VERSION = '3.9.5';

export interface ZooKeeperOptions {
  dir: string;
  port: number;
  version?: string;
  heapMb?: number;
  /**
   * ZooKeeper's tick (default 500 ms): sessions last 2 to 20 ticks, so a killed client's session
   * (a ClickHouse replica's) expires within 10 s by default
   */
  tickMs?: number;
  /** where progress lines go (default stderr) */
  log?: (msg: string) => void;
  /** aborts the start; a server this call started is stopped again */
  signal?: AbortSignal | undefined;
}

export interface RunningZooKeeper {
  /** host:port, as ClickHouse's <zookeeper><node> wants it */
  connect: string;
  host: string;
  port: number;
  pidFile: string;
  logFile: string;
  /** false when it was running already (this call did not start it) */
  startedNow: boolean;
}

const zooKeeperJars = (version: string, toolsDir = TOOLS_DIR): MavenJars => ({
  what: `Apache ZooKeeper ${version}`,
  pom: `${REPO_ROOT}tools/local-stack/zookeeper/pom.xml`,
  properties: { 'zookeeper.version': version },
  libs: `${toolsDir}/zookeeper-${version}/libs`,
  marker: `zookeeper-${version}.jar`,
  advice: `or pick another ZooKeeper version (3.8.x and 3.9.x are on Maven Central) instead of ${version}`,
});

/** Resolves ZooKeeper `version`'s jars (once) and returns their folder. */
export function ensureZooKeeperJars(
  version = DEFAULT_ZOOKEEPER_VERSION,
  log: (msg: string) => void = console.error,
  signal?: AbortSignal,
): Promise<string> {
  return ensureMavenJars(zooKeeperJars(version), log, signal);
}

function zooCfg(o: ZooKeeperOptions & { dir: string }): string {
  return [
    `tickTime=${o.tickMs ?? 500}`,
    'initLimit=10',
    'syncLimit=5',
    `dataDir=${o.dir}/data`,
    `clientPort=${o.port}`,
    'clientPortAddress=127.0.0.1',
    // no Jetty admin server on port 8080; the four-letter words the probe and an operator use
    'admin.enableServer=false',
    '4lw.commands.whitelist=srvr,ruok,mntr,stat',
    'maxClientCnxns=0',
    'autopurge.snapRetainCount=3',
    'autopurge.purgeInterval=1',
    '',
  ].join('\n');
}

/** A four-letter word to ZooKeeper's client port, its answer (empty when it closed at once). */
export function fourLetterWord(port: number, word: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect({ host: '127.0.0.1', port }, () => socket.end(word));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`no answer to ${word} on 127.0.0.1:${port} within ${timeoutMs} ms`));
    });
  });
}

/** true once ZooKeeper serves requests (`srvr` names its mode); otherwise why not. */
async function zooKeeperAnswers(port: number): Promise<true | string> {
  try {
    const answer = await fourLetterWord(port, 'srvr');
    if (/^Mode: /m.test(answer)) return true;
    return `not serving yet (${answer.trim().split('\n')[0] || 'closed the connection'})`;
  } catch (err) {
    return `not answering yet (${(err as Error).message})`;
  }
}

/** How long it gets to exit on SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 10_000;

/** The argument that names this server in its command line (what its pid file is checked against). */
const identity = (dir: string) => `${dir}/zoo.cfg`;

/** Starts (or finds already running) a standalone ZooKeeper with its data in `o.dir`. */
export async function startZooKeeper(o: ZooKeeperOptions): Promise<RunningZooKeeper> {
  const log = o.log ?? console.error;
  const dir = resolvePath(o.dir);
  const version = o.version ?? DEFAULT_ZOOKEEPER_VERSION;
  const libs = await ensureZooKeeperJars(version, log, o.signal);
  mkdirSync(`${dir}/data`, { recursive: true });
  const pidFile = `${dir}/zookeeper.pid`;
  const logFile = `${dir}/zookeeper.log`;
  const classpath = `${libs}/*`;
  const main = 'org.apache.zookeeper.server.ZooKeeperServerMain';
  const { startedNow } = await launchService({
    name: 'ZooKeeper',
    what: `ZooKeeper ${version} at 127.0.0.1:${o.port}`,
    pidFile,
    identity: identity(dir),
    probe: () => zooKeeperAnswers(o.port),
    logs: markLogs([logFile]),
    dataDir: `${dir}/data`,
    firstStart: !existsSync(`${dir}/data`) || readdirSync(`${dir}/data`).length === 0,
    firstStartDoing: 'first start: creating its data folder',
    ports: [['ZooKeeper client', o.port]],
    advice: [
      `its log: ${logFile}`,
      `run it by hand to see it start: java -cp '${classpath}' ${main} ${identity(dir)}`,
    ],
    spawnedAdvice: [
      `if its data is damaged, remove ${dir}/data to start empty (the replicas' metadata goes with it)`,
    ],
    prepare: () => writeFileSync(identity(dir), zooCfg({ ...o, dir })),
    spawn: () =>
      spawnDetached(
        'java',
        javaArgs({ heapMb: o.heapMb ?? 256, classpath, main, args: [identity(dir)] }),
        logFile,
        pidFile,
      ),
    stopGraceMs: STOP_GRACE_MS,
    log,
    signal: o.signal,
  });
  return { connect: `127.0.0.1:${o.port}`, host: '127.0.0.1', port: o.port, pidFile, logFile, startedNow };
}

export async function stopZooKeeper(dir: string): Promise<StopResult> {
  const abs = resolvePath(dir);
  return stopPidFile(`${abs}/zookeeper.pid`, identity(abs), STOP_GRACE_MS);
}
