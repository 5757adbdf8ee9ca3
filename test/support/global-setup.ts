/**
 * Starts a real ClickHouse and a real single-node Kafka (KRaft) on free loopback ports, with data in
 * a temporary folder, for the integration tests; stops them and removes the folder afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { TestProject } from 'vitest/node';
import { stopClickHouse } from '../../tools/local-stack/clickhouse-server.ts';
import { stopKafka } from '../../tools/local-stack/kafka-server.ts';
import { freePort } from '../../tools/local-stack/process.ts';
import { startLocalServers } from '../../tools/local-stack/servers.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    clickhouseUrl: string;
    clickhouseDir: string;
    clickhouseHttpPort: number;
    clickhouseTcpPort: number;
    kafkaBrokers: string;
    kafkaVersion: string;
  }
}

export default async function setup(project: TestProject) {
  const kafkaVersion = process.env['TOKENWATCH_TEST_KAFKA_VERSION'] ?? '3.9.2';
  const dir = mkdtempSync(`${tmpdir()}/tokenwatch-test-`);
  const [httpPort, tcpPort, kafkaPort, controllerPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const started = Date.now();
  const stop = async () => {
    await Promise.all([stopClickHouse(`${dir}/clickhouse`), stopKafka(`${dir}/kafka`)]);
    rmSync(dir, { recursive: true, force: true });
  };
  // Kafka's jars are resolved before either server starts; a failed start stops what it started.
  const { clickhouse: ch, kafka } = await startLocalServers({
    clickhouse: { dir: `${dir}/clickhouse`, httpPort, tcpPort },
    kafka: { dir: `${dir}/kafka`, port: kafkaPort, controllerPort, version: kafkaVersion, partitions: 6 },
  }).catch((err: Error) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  console.error(
    `[test stack] ClickHouse ${ch.url}, Kafka ${kafkaVersion} ${kafka.brokers} in ${Date.now() - started} ms (${dir})`,
  );
  project.provide('clickhouseUrl', ch.url);
  project.provide('clickhouseDir', `${dir}/clickhouse`);
  project.provide('clickhouseHttpPort', httpPort);
  project.provide('clickhouseTcpPort', tcpPort);
  project.provide('kafkaBrokers', kafka.brokers);
  project.provide('kafkaVersion', kafkaVersion);

  return stop;
}
