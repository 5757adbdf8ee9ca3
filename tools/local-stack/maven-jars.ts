/**
 * Runtime jars resolved from Maven Central with Maven (a small pom per program, e.g.
 * tools/local-stack/kafka/pom.xml) into a folder of the tools directory, once. Maven runs through
 * maven.ts (a child process with progress lines and its last lines in the error); the jars land in
 * the final folder only when complete (an interrupted run leaves nothing that looks resolved).
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { runMaven } from './maven.ts';

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
  const defines = Object.entries({ ...j.properties, out: partial }).map(([k, v]) => `-D${k}=${v}`);
  try {
    await runMaven({
      what: `resolving ${j.what}'s jars`,
      args: ['-q', '-f', j.pom, ...defines, 'dependency:copy-dependencies'],
      log,
      signal,
      advice: j.advice,
    });
    if (!existsSync(`${partial}/${j.marker}`))
      throw new Error(
        `could not resolve ${j.what}'s jars with Maven: ${j.marker} was not copied. What to do: check the ` +
          `artifacts of ${j.pom}, ${j.advice}.`,
      );
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    throw err;
  }
  rmSync(j.libs, { recursive: true, force: true });
  renameSync(partial, j.libs);
  log(`${j.what} jars resolved in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  return j.libs;
}
