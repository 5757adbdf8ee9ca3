/**
 * Runtime jars resolved from Maven Central with Maven (a small pom per program, e.g.
 * tools/local-stack/kafka/pom.xml) into a folder of the tools directory, once. Resolution runs in a
 * child process without blocking the event loop, says every few seconds that it is still at work,
 * and lands in the final folder only when complete (an interrupted run leaves nothing that looks
 * resolved).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';

export interface MavenJars {
  /** what is resolved, for messages: "Apache Kafka 3.9.2" */
  what: string;
  /** the pom whose runtime dependencies are copied */
  pom: string;
  /** -D properties for the pom (its versions) */
  properties: Record<string, string>;
  /** the folder the jars land in */
  libs: string;
  /** a jar's file name whose presence in `libs` means resolved */
  marker: string;
  /** what else the failure message advises (another version, …) */
  advice: string;
}

/** Whether the jars are resolved already. */
export const mavenJarsPresent = (j: MavenJars) => existsSync(`${j.libs}/${j.marker}`);

const OUTPUT_LINES = 30;

/** Resolves the jars (once) and returns their folder. */
export async function ensureMavenJars(
  j: MavenJars,
  log: (msg: string) => void = console.error,
  signal?: AbortSignal,
): Promise<string> {
  if (mavenJarsPresent(j)) return j.libs;
  const partial = `${j.libs}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  log(`resolving ${j.what} jars from Maven Central into ${j.libs}…`);
  const began = Date.now();
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    output.splice(0, Math.max(0, output.length - OUTPUT_LINES));
  };
  const defines = Object.entries({ ...j.properties, out: partial }).map(([k, v]) => `-D${k}=${v}`);
  const outcome = await new Promise<string | undefined>((resolve) => {
    const mvn = spawn('mvn', ['-B', '-q', '-f', j.pom, ...defines, 'dependency:copy-dependencies'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(signal ? { signal } : {}),
    });
    const ticker = setInterval(
      () => log(`still resolving ${j.what} jars with Maven (${Math.round((Date.now() - began) / 1000)} s)…`),
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
  if (outcome !== undefined || !existsSync(`${partial}/${j.marker}`)) {
    rmSync(partial, { recursive: true, force: true });
    throw new Error(
      `could not resolve ${j.what}'s jars with Maven: ${outcome ?? `${j.marker} was not copied`}` +
        (output.length > 0 ? `\n--- Maven's last lines ---\n${output.join('\n')}\n---` : '') +
        "\nWhat to do: check that 'mvn' and Java 17 are installed (apt-get install maven default-jre-headless) " +
        `and that Maven Central is reachable, ${j.advice}.`,
    );
  }
  rmSync(j.libs, { recursive: true, force: true });
  renameSync(partial, j.libs);
  log(`${j.what} jars resolved in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  return j.libs;
}
