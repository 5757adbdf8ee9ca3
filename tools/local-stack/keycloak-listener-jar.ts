/**
 * tokenwatch's Keycloak event listener (integrations/keycloak-listener), built with Maven into
 * <tools>/keycloak-listener/<key>/ once per version of its sources (key = hash of its pom.xml and
 * src/main), so a test or the stack gets the jar of the code in the work tree without rebuilding it
 * every time. The build runs in a child process with progress lines (maven.ts) into a partial folder
 * that is renamed when complete. Its JUnit tests are not run here (`mvn -f … test` runs them).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { runMaven } from './maven.ts';
import { REPO_ROOT, TOOLS_DIR } from './paths.ts';

export const LISTENER_DIR = `${REPO_ROOT}integrations/keycloak-listener`;

/** Files below `dir`, sorted, as paths relative to `root`. */
function filesBelow(root: string, dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(`${root}/${dir}`, { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...filesBelow(root, rel));
    else out.push(rel);
  }
  return out.sort();
}

/** The key of the listener's sources: what changes when the jar would. */
export function listenerSourceKey(sources = LISTENER_DIR): string {
  const h = createHash('sha256');
  for (const rel of ['pom.xml', ...filesBelow(sources, 'src/main')]) {
    h.update(`${rel}\n`);
    h.update(readFileSync(`${sources}/${rel}`));
  }
  return h.digest('hex').slice(0, 16);
}

const jarIn = (dir: string) =>
  readdirSync(dir).find((f) => f.endsWith('.jar') && statSync(`${dir}/${f}`).isFile());

/** Builds the listener (once per version of its sources) and returns its jar's path. */
export async function ensureListenerJar(
  log: (msg: string) => void = console.error,
  signal?: AbortSignal,
  toolsDir = TOOLS_DIR,
): Promise<string> {
  const key = listenerSourceKey();
  const dir = `${toolsDir}/keycloak-listener/${key}`;
  const built = existsSync(dir) ? jarIn(dir) : undefined;
  if (built !== undefined) return `${dir}/${built}`;
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const began = Date.now();
  log(`building the tokenwatch Keycloak listener (${LISTENER_DIR}) with Maven…`);
  try {
    await runMaven({
      what: 'building the tokenwatch Keycloak listener',
      args: ['-q', '-f', `${LISTENER_DIR}/pom.xml`, `-Dout=${partial}/build`, '-DskipTests', 'package'],
      log,
      signal,
      advice: `the compiler's messages above name the file and line in ${LISTENER_DIR}/src`,
    });
    const jar = jarIn(`${partial}/build`);
    if (jar === undefined) throw new Error(`Maven built no jar into ${partial}/build`);
    renameSync(`${partial}/build/${jar}`, `${partial}/${jar}`);
    rmSync(`${partial}/build`, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(partial, dir);
    log(`tokenwatch Keycloak listener built in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    return `${dir}/${jar}`;
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
}
