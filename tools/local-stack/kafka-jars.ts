/**
 * Apache Kafka's runtime jars, resolved from Maven Central with Maven (tools/local-stack/kafka/pom.xml) into
 * <tools>/kafka-<version>/libs once (tools/local-stack/maven-jars.ts: non-blocking, with progress, and
 * complete or absent).
 */
import { ensureMavenJars, type MavenJars, mavenJarsPresent } from './maven-jars.ts';
import { REPO_ROOT, TOOLS_DIR } from './paths.ts';

export const DEFAULT_KAFKA_VERSION = '3.9.2';

/** Where Kafka `version`'s jars go. */
export const kafkaLibsDir = (version: string, toolsDir = TOOLS_DIR) => `${toolsDir}/kafka-${version}/libs`;

const kafkaJars = (version: string, toolsDir = TOOLS_DIR): MavenJars => ({
  what: `Apache Kafka ${version}`,
  pom: `${REPO_ROOT}tools/local-stack/kafka/pom.xml`,
  properties: {
    'kafka.version': version,
    'slf4j.version': Number(version.split('.')[0]) >= 4 ? '2.0.17' : '1.7.36',
  },
  libs: kafkaLibsDir(version, toolsDir),
  marker: `kafka_2.13-${version}.jar`,
  advice: 'or pick another version with TOKENWATCH_STACK_KAFKA_VERSION',
});

/** Whether Kafka `version`'s jars are resolved already. */
export const kafkaJarsPresent = (version: string, toolsDir = TOOLS_DIR) =>
  mavenJarsPresent(kafkaJars(version, toolsDir));

/** Resolves Kafka `version`'s jars (once) and returns their folder. */
export function ensureKafkaJars(
  version = DEFAULT_KAFKA_VERSION,
  log: (msg: string) => void = console.error,
  signal?: AbortSignal,
): Promise<string> {
  return ensureMavenJars(kafkaJars(version), log, signal);
}
