/**
 * Keycloak's server distribution (org.keycloak:keycloak-quarkus-dist, a zip on Maven Central),
 * resolved with Maven and unpacked into <tools>/keycloak-<version> once. Maven and the unpacking run
 * in child processes (the event loop is never blocked) with progress lines; the result lands in the
 * final folder only when complete, so an interrupted run leaves nothing that looks resolved. The
 * folder stays pristine: servers run from light homes beside their data (keycloak-home.ts).
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { runMaven } from './maven.ts';
import { TOOLS_DIR } from './paths.ts';

export const DEFAULT_KEYCLOAK_VERSION = '26.7.3';

/** Where Keycloak `version`'s distribution is unpacked. */
export const keycloakDistDir = (version = DEFAULT_KEYCLOAK_VERSION, toolsDir = TOOLS_DIR) =>
  `${toolsDir}/keycloak-${version}`;

/** Whether Keycloak `version` is unpacked already. */
export const keycloakDistPresent = (version = DEFAULT_KEYCLOAK_VERSION, toolsDir = TOOLS_DIR) => {
  const dir = keycloakDistDir(version, toolsDir);
  return existsSync(`${dir}/bin/kc.sh`) && existsSync(`${dir}/lib/quarkus-run.jar`);
};

const run = promisify(execFile);

const onPath = async (cmd: string) =>
  run('sh', ['-c', `command -v ${cmd}`]).then(
    () => true,
    () => false,
  );

/** Unpacks `zip` into `into` with unzip, or Python's zipfile where unzip is missing. */
async function unpack(zip: string, into: string, signal?: AbortSignal) {
  const opts = { maxBuffer: 64 * 1024 * 1024, ...(signal ? { signal } : {}) };
  if (await onPath('unzip')) await run('unzip', ['-q', '-o', zip, '-d', into], opts);
  else if (await onPath('python3')) await run('python3', ['-m', 'zipfile', '-e', zip, into], opts);
  else
    throw new Error(`cannot unpack ${zip}: neither unzip nor python3 is installed (apt-get install unzip)`);
}

/** Resolves and unpacks Keycloak `version` (once) and returns its folder. */
export async function ensureKeycloakDist(
  version = DEFAULT_KEYCLOAK_VERSION,
  log: (msg: string) => void = console.error,
  signal?: AbortSignal,
): Promise<string> {
  const dir = keycloakDistDir(version);
  if (keycloakDistPresent(version)) return dir;
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const began = Date.now();
  log(
    `resolving Keycloak ${version} (org.keycloak:keycloak-quarkus-dist, ~180 MB) from Maven Central into ${dir}…`,
  );
  try {
    await runMaven({
      what: `resolving Keycloak ${version}`,
      args: [
        '-q',
        'dependency:copy',
        `-Dartifact=org.keycloak:keycloak-quarkus-dist:${version}:zip`,
        `-DoutputDirectory=${partial}`,
      ],
      log,
      signal,
      advice: `or ask for another version (startKeycloak's version option; default ${DEFAULT_KEYCLOAK_VERSION})`,
    });
    const zip = `${partial}/keycloak-quarkus-dist-${version}.zip`;
    if (!existsSync(zip)) throw new Error(`Maven finished but copied no ${zip}`);
    log(`unpacking Keycloak ${version}…`);
    await unpack(zip, `${partial}/unpacked`, signal);
    rmSync(zip, { force: true });
    const [top] = readdirSync(`${partial}/unpacked`);
    const home = `${partial}/unpacked/${top}`;
    if (top === undefined || !existsSync(`${home}/bin/kc.sh`))
      throw new Error(`the Keycloak ${version} zip holds no <folder>/bin/kc.sh (found ${top ?? 'nothing'})`);
    // Python's zipfile does not keep the scripts' modes
    for (const f of readdirSync(`${home}/bin`)) if (f.endsWith('.sh')) chmodSync(`${home}/bin/${f}`, 0o755);
    rmSync(dir, { recursive: true, force: true });
    renameSync(home, dir);
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
  log(`Keycloak ${version} resolved and unpacked in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  return dir;
}
