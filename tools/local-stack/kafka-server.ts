/**
 * A real single-node Apache Kafka in KRaft mode for local use and tests: its jars resolved from
 * Maven Central (tools/local-stack/kafka-jars.ts), run with the machine's Java. Its start is followed
 * (tools/local-stack/start-wait.ts), not timed out.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { promisify } from 'node:util';
import { javaArgs } from './java.ts';
import { DEFAULT_KAFKA_VERSION, ensureKafkaJars } from './kafka-jars.ts';
import { launchService } from './launch.ts';
import { checkPidFile, type PidCheck } from './pid-file.ts';
import { type StopResult, spawnDetached, stopPidFile } from './process.ts';
import { markLogs, StartError } from './start-error.ts';

export { DEFAULT_KAFKA_VERSION, ensureKafkaJars } from './kafka-jars.ts';

export interface KafkaServerOptions {
  dir: string;
  port: number;
  controllerPort: number;
  version?: string;
  partitions?: number;
  heapMb?: number;
  /** where progress lines go (default stderr) */
  log?: (msg: string) => void;
  /** aborts the start; a broker this call started is stopped again */
  signal?: AbortSignal | undefined;
}

export interface RunningKafka {
  brokers: string;
  pidFile: string;
  logFile: string;
  /** false when it was running already (this call did not start it) */
  startedNow: boolean;
}

function serverProperties(o: KafkaServerOptions): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${o.controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${o.port}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${o.dir}/data`,
    `num.partitions=${o.partitions ?? 6}`,
    'auto.create.topics.enable=true',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=6',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'log.retention.hours=168',
    '',
  ].join('\n');
}

/** true once the broker accepts connections; otherwise why not. */
function kafkaAnswers(port: number): Promise<true | string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', (err) => resolve(`not accepting connections yet (${err.message})`));
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(`no answer on 127.0.0.1:${port} within 1 s`);
    });
  });
}

/** How long it gets to exit on SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 20_000;

/** The argument that names this broker in its command line (what its pid file is checked against). */
const identity = (dir: string) => `${dir}/server.properties`;

/** Formats the broker's storage (KRaft) once, with a fresh cluster id. */
async function formatStorage(dir: string, classpath: string) {
  // base64url of 16 bytes, as Kafka wants it; not starting with '-', which the tool would take for an option
  let clusterId = randomBytes(16).toString('base64url');
  while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
  try {
    await promisify(execFile)(
      'java',
      [
        '-cp',
        classpath,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId,
        '-c',
        identity(dir),
        '--ignore-formatted',
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (err) {
    const output = `${(err as { stdout?: string }).stdout ?? ''}\n${(err as { stderr?: string }).stderr ?? ''}`;
    throw new StartError(
      `formatting Kafka's storage in ${dir}/data failed: ${(err as Error).message.split('\n')[0]}\n` +
        output.split('\n').filter(Boolean).slice(-15).join('\n'),
      [],
      ['check that Java 17 is installed (java -version)', `to start from empty data, remove ${dir}/data`],
    );
  }
}

/** Starts (or finds already running) a KRaft broker+controller with its data in `o.dir`. */
export async function startKafka(o: KafkaServerOptions): Promise<RunningKafka> {
  const log = o.log ?? console.error;
  const dir = resolvePath(o.dir);
  const version = o.version ?? DEFAULT_KAFKA_VERSION;
  const libs = await ensureKafkaJars(version, log, o.signal);
  mkdirSync(`${dir}/data`, { recursive: true });
  const brokers = `127.0.0.1:${o.port}`;
  const pidFile = `${dir}/kafka.pid`;
  const logFile = `${dir}/kafka.log`;
  const classpath = `${libs}/*`;
  const firstStart = !existsSync(`${dir}/data/meta.properties`) || readdirSync(`${dir}/data`).length === 0;
  const { startedNow } = await launchService({
    name: 'Kafka',
    what: `Kafka ${version} at ${brokers}`,
    pidFile,
    identity: identity(dir),
    probe: () => kafkaAnswers(o.port),
    logs: markLogs([logFile]),
    dataDir: `${dir}/data`,
    firstStart,
    firstStartDoing: 'first start: creating its metadata log',
    ports: [
      ['Kafka broker', o.port],
      ['Kafka controller', o.controllerPort],
    ],
    advice: [
      `its log: ${logFile}`,
      `run it by hand to see it start: java -cp '${classpath}' kafka.Kafka ${identity(dir)}`,
    ],
    spawnedAdvice: [`if its data is damaged, remove ${dir}/data to start empty (its topics go with it)`],
    prepare: async () => {
      writeFileSync(identity(dir), serverProperties({ ...o, dir }));
      if (firstStart) await formatStorage(dir, classpath);
    },
    spawn: () =>
      spawnDetached(
        'java',
        javaArgs({
          heapMb: o.heapMb ?? 512,
          options: ['-XX:+UseG1GC'],
          classpath,
          main: 'kafka.Kafka',
          args: [identity(dir)],
        }),
        logFile,
        pidFile,
      ),
    stopGraceMs: STOP_GRACE_MS,
    log,
    signal: o.signal,
  });
  return { brokers, pidFile, logFile, startedNow };
}

export async function stopKafka(dir: string): Promise<StopResult> {
  const abs = resolvePath(dir);
  return stopPidFile(`${abs}/kafka.pid`, identity(abs), STOP_GRACE_MS);
}

/** Whether `dir`'s pid file names its running broker (a stale one is removed). */
export function kafkaPidCheck(dir: string): PidCheck {
  const abs = resolvePath(dir);
  return checkPidFile(`${abs}/kafka.pid`, identity(abs));
}
