/**
 * A real single-node Apache Kafka in KRaft mode for local use and tests: its jars resolved from
 * Maven Central with Maven (infra/kafka/pom.xml) into a cache, run with the machine's Java.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { REPO_ROOT, TOOLS_DIR } from './paths.ts';
import { isAlive, readPid, spawnDetached, stopPidFile, waitFor } from './process.ts';

export const DEFAULT_KAFKA_VERSION = '3.9.2';

export interface KafkaServerOptions {
  dir: string;
  port: number;
  controllerPort: number;
  version?: string;
  partitions?: number;
  heapMb?: number;
}

export interface RunningKafka {
  brokers: string;
  pidFile: string;
  logFile: string;
}

/** Resolves Kafka's runtime jars into .tools/kafka-<version>/libs (once) and returns that folder. */
export function ensureKafkaJars(
  version = DEFAULT_KAFKA_VERSION,
  log: (msg: string) => void = console.error,
): string {
  const libs = `${TOOLS_DIR}/kafka-${version}/libs`;
  if (existsSync(`${libs}/kafka_2.13-${version}.jar`)) return libs;
  log(`resolving Apache Kafka ${version} jars from Maven Central into ${libs}…`);
  const slf4j = Number(version.split('.')[0]) >= 4 ? '2.0.17' : '1.7.36';
  try {
    execFileSync(
      'mvn',
      [
        '-B',
        '-q',
        '-f',
        `${REPO_ROOT}infra/kafka/pom.xml`,
        `-Dkafka.version=${version}`,
        `-Dslf4j.version=${slf4j}`,
        `-Dout=${libs}`,
        'dependency:copy-dependencies',
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
  } catch (err) {
    throw new Error(
      `could not resolve Kafka ${version} with Maven (is 'mvn' installed and Maven Central reachable?): ${(err as Error).message}`,
    );
  }
  return libs;
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

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Starts (or finds already running) a KRaft broker+controller with its data in `o.dir`. */
export async function startKafka(o: KafkaServerOptions): Promise<RunningKafka> {
  const version = o.version ?? DEFAULT_KAFKA_VERSION;
  const libs = ensureKafkaJars(version);
  mkdirSync(`${o.dir}/data`, { recursive: true });
  const brokers = `127.0.0.1:${o.port}`;
  const pidFile = `${o.dir}/kafka.pid`;
  const logFile = `${o.dir}/kafka.log`;
  const pid = readPid(pidFile);
  if (pid !== undefined && isAlive(pid) && (await portAnswers(o.port))) return { brokers, pidFile, logFile };

  const props = `${o.dir}/server.properties`;
  writeFileSync(props, serverProperties(o));
  const classpath = `${libs}/*`;
  if (!existsSync(`${o.dir}/data/meta.properties`) || readdirSync(`${o.dir}/data`).length === 0) {
    // base64url of 16 bytes, as Kafka wants it; not starting with '-', which the tool would take for an option
    let clusterId = randomBytes(16).toString('base64url');
    while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
    try {
      execFileSync(
        'java',
        [
          '-cp',
          classpath,
          'kafka.tools.StorageTool',
          'format',
          '-t',
          clusterId,
          '-c',
          props,
          '--ignore-formatted',
        ],
        {
          stdio: 'pipe',
        },
      );
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? '')
        .split('\n')
        .slice(-15)
        .join('\n');
      throw new Error(`formatting Kafka storage in ${o.dir}/data failed:\n${stderr}`);
    }
  }
  spawnDetached(
    'java',
    [
      `-Xmx${o.heapMb ?? 512}m`,
      '-XX:+UseG1GC',
      '-Djava.awt.headless=true',
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      '-cp',
      classpath,
      'kafka.Kafka',
      props,
    ],
    logFile,
    pidFile,
  );
  await waitFor(`Kafka ${version} at ${brokers}`, () => portAnswers(o.port), 60_000, logFile);
  return { brokers, pidFile, logFile };
}

export async function stopKafka(dir: string): Promise<boolean> {
  return stopPidFile(`${dir}/kafka.pid`, 20_000);
}
