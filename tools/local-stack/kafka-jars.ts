/**
 * Apache Kafka's runtime jars, resolved from Maven Central with Maven (tools/local-stack/kafka/pom.xml) into
 * <tools>/kafka-<version>/libs once. Resolution runs in a child process without blocking the event
 * loop (maven.ts), says every few seconds that it is still at work, and lands in the final folder only when
 * complete (an interrupted run leaves nothing that looks resolved).
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { runMaven } from './maven.ts';
import { REPO_ROOT, TOOLS_DIR } from './paths.ts';

export const DEFAULT_KAFKA_VERSION = '3.9.2';

/** Where Kafka `version`'s jars go. */
export const kafkaLibsDir = (version: string, toolsDir = TOOLS_DIR) => `${toolsDir}/kafka-${version}/libs`;

/** Whether Kafka `version`'s jars are resolved already. */
export const kafkaJarsPresent = (version: string, toolsDir = TOOLS_DIR) =>
  existsSync(`${kafkaLibsDir(version, toolsDir)}/kafka_2.13-${version}.jar`);

/** Resolves Kafka `version`'s jars (once) and returns their folder. */
export async function ensureKafkaJars(
  version = DEFAULT_KAFKA_VERSION,
  log: (msg: string) => void = console.error,
  signal?: AbortSignal,
): Promise<string> {
  const libs = kafkaLibsDir(version);
  if (kafkaJarsPresent(version)) return libs;
  const partial = `${libs}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  log(`resolving Apache Kafka ${version} jars from Maven Central into ${libs}…`);
  const slf4j = Number(version.split('.')[0]) >= 4 ? '2.0.17' : '1.7.36';
  const began = Date.now();
  try {
    await runMaven({
      what: `resolving Apache Kafka ${version}'s jars`,
      args: [
        '-q',
        '-f',
        `${REPO_ROOT}tools/local-stack/kafka/pom.xml`,
        `-Dkafka.version=${version}`,
        `-Dslf4j.version=${slf4j}`,
        `-Dout=${partial}`,
        'dependency:copy-dependencies',
      ],
      log,
      signal,
      advice: 'or pick another version with TOKENWATCH_STACK_KAFKA_VERSION',
    });
    if (!existsSync(`${partial}/kafka_2.13-${version}.jar`))
      throw new Error(`Maven copied no kafka_2.13-${version}.jar into ${partial}`);
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    throw err;
  }
  rmSync(libs, { recursive: true, force: true });
  renameSync(partial, libs);
  log(`Kafka ${version} jars resolved in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  return libs;
}
