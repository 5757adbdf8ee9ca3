/**
 * Apache Kafka's runtime jars, resolved from Maven Central with Maven (tools/local-stack/kafka/pom.xml) into
 * <tools>/kafka-<version>/libs once. Resolution runs in a child process without blocking the event
 * loop, says every few seconds that it is still at work, and lands in the final folder only when
 * complete (an interrupted run leaves nothing that looks resolved).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { REPO_ROOT, TOOLS_DIR } from './paths.ts';

export const DEFAULT_KAFKA_VERSION = '3.9.2';

/** Where Kafka `version`'s jars go. */
export const kafkaLibsDir = (version: string, toolsDir = TOOLS_DIR) => `${toolsDir}/kafka-${version}/libs`;

/** Whether Kafka `version`'s jars are resolved already. */
export const kafkaJarsPresent = (version: string, toolsDir = TOOLS_DIR) =>
  existsSync(`${kafkaLibsDir(version, toolsDir)}/kafka_2.13-${version}.jar`);

const OUTPUT_LINES = 30;

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
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    output.splice(0, Math.max(0, output.length - OUTPUT_LINES));
  };
  const outcome = await new Promise<string | undefined>((resolve) => {
    const mvn = spawn(
      'mvn',
      [
        '-B',
        '-q',
        '-f',
        `${REPO_ROOT}tools/local-stack/kafka/pom.xml`,
        `-Dkafka.version=${version}`,
        `-Dslf4j.version=${slf4j}`,
        `-Dout=${partial}`,
        'dependency:copy-dependencies',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], ...(signal ? { signal } : {}) },
    );
    const ticker = setInterval(
      () =>
        log(
          `still resolving Kafka ${version} jars with Maven (${Math.round((Date.now() - began) / 1000)} s)…`,
        ),
      10_000,
    );
    mvn.stdout.on('data', keep);
    mvn.stderr.on('data', keep);
    mvn.once('error', (err) => {
      clearInterval(ticker);
      resolve(err.name === 'AbortError' ? 'interrupted' : err.message);
    });
    mvn.once('close', (code, sig) => {
      clearInterval(ticker);
      resolve(code === 0 ? undefined : `mvn exited with ${sig ?? `code ${code}`}`);
    });
  });
  if (outcome !== undefined || !existsSync(`${partial}/kafka_2.13-${version}.jar`)) {
    rmSync(partial, { recursive: true, force: true });
    throw new Error(
      `could not resolve Apache Kafka ${version}'s jars with Maven: ${outcome ?? 'no kafka jar was copied'}` +
        (output.length > 0 ? `\n--- Maven's last lines ---\n${output.join('\n')}\n---` : '') +
        "\nWhat to do: check that 'mvn' and Java 17 are installed (apt-get install maven default-jre-headless) " +
        'and that Maven Central is reachable, or pick another version with TOKENWATCH_STACK_KAFKA_VERSION.',
    );
  }
  rmSync(libs, { recursive: true, force: true });
  renameSync(partial, libs);
  log(`Kafka ${version} jars resolved in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  return libs;
}
