/**
 * Light Keycloak homes: a server's own folder that holds its scripts, config, providers, augmented
 * build (lib/quarkus, ~5 MB) and data, with the distribution's jars (lib/lib, ~170 MB) linked from
 * the pristine unpacked distribution (keycloak-dist.ts). Each server runs from its own home, so
 * servers with other providers or data never re-augment one another.
 *
 * Augmentation (Quarkus' build of the server for start-dev and its providers, ~25 s) is done once per
 * set of providers: after a first start succeeded, its lib/quarkus is kept in
 * <tools>/keycloak-<version>-builds/<key>, key = hash of the version and the providers' names and
 * bytes; a later home with the same providers starts from it without re-augmenting. Keycloak checks
 * its providers by file name and modification time (kc.provider.file.<name>.last-modified in the
 * build), so provider jars are copied with one fixed modification time: the key covers their bytes.
 */
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { basename } from 'node:path';
import { TOOLS_DIR } from './paths.ts';

/** The modification time every provider jar gets in a home (2020-01-01T00:00:00Z). */
const PROVIDER_MTIME = new Date('2020-01-01T00:00:00Z');
/** Builds kept per version (the newest; older ones are removed when a new one is saved). */
const BUILDS_KEPT = 4;
const KEY_FILE = '.tokenwatch-build-key';

export const keycloakBuildsDir = (version: string, toolsDir = TOOLS_DIR) =>
  `${toolsDir}/keycloak-${version}-builds`;

/** The build key of `version` with these provider jars. */
export function buildKey(version: string, providers: string[]): string {
  const h = createHash('sha256').update(`keycloak ${version} start-dev\n`);
  for (const jar of [...providers].sort((a, b) => basename(a).localeCompare(basename(b)))) {
    h.update(`${basename(jar)}\n`);
    h.update(readFileSync(jar));
  }
  return h.digest('hex').slice(0, 16);
}

export interface HomeOptions {
  /** the unpacked distribution */
  dist: string;
  version: string;
  /** the home to make or refresh */
  home: string;
  /** provider jars to install in its providers/ folder */
  providers: string[];
  toolsDir?: string;
}

export interface PreparedHome {
  key: string;
  /** false when no build for these providers is kept: the start augments (slow) */
  built: boolean;
}

/** Whether `home` would start without augmenting (it runs, or a kept build is, for these providers); reads only. */
export function plannedBuild(o: HomeOptions): PreparedHome {
  for (const jar of o.providers)
    if (!existsSync(jar) || !jar.endsWith('.jar'))
      throw new Error(`Keycloak provider ${jar} is not a jar file: build it first, or leave it out`);
  const key = buildKey(o.version, o.providers);
  const had = existsSync(`${o.home}/${KEY_FILE}`) ? readFileSync(`${o.home}/${KEY_FILE}`, 'utf8').trim() : '';
  const own = had === key && existsSync(`${o.home}/lib/quarkus/quarkus-application.dat`);
  return {
    key,
    built: own || existsSync(`${keycloakBuildsDir(o.version, o.toolsDir)}/${key}/quarkus-application.dat`),
  };
}

/**
 * Makes `home` (or refreshes it: its data is kept) for the distribution and providers given; puts in
 * the kept build for them when there is one.
 */
export function prepareHome(o: HomeOptions): PreparedHome {
  const { key } = plannedBuild(o);
  mkdirSync(`${o.home}/lib`, { recursive: true });
  for (const part of ['bin', 'conf', 'themes', 'lib/app', 'lib/quarkus-run.jar', 'version.txt'])
    if (existsSync(`${o.dist}/${part}`) && !existsSync(`${o.home}/${part}`))
      cpSync(`${o.dist}/${part}`, `${o.home}/${part}`, { recursive: true, preserveTimestamps: true });
  if (!existsSync(`${o.home}/lib/lib`)) symlinkSync(`${o.dist}/lib/lib`, `${o.home}/lib/lib`);
  rmSync(`${o.home}/providers`, { recursive: true, force: true });
  mkdirSync(`${o.home}/providers`);
  for (const jar of o.providers) {
    const to = `${o.home}/providers/${basename(jar)}`;
    cpSync(jar, to);
    utimesSync(to, PROVIDER_MTIME, PROVIDER_MTIME);
  }
  const had = existsSync(`${o.home}/${KEY_FILE}`) ? readFileSync(`${o.home}/${KEY_FILE}`, 'utf8').trim() : '';
  const kept = `${keycloakBuildsDir(o.version, o.toolsDir)}/${key}`;
  if (had === key && existsSync(`${o.home}/lib/quarkus/quarkus-application.dat`)) return { key, built: true };
  rmSync(`${o.home}/lib/quarkus`, { recursive: true, force: true });
  const built = existsSync(`${kept}/quarkus-application.dat`);
  cpSync(built ? kept : `${o.dist}/lib/quarkus`, `${o.home}/lib/quarkus`, { recursive: true });
  // recorded only once this home runs that build (saveBuild, or now when it was kept)
  if (built) writeFileSync(`${o.home}/${KEY_FILE}`, `${key}\n`);
  else rmSync(`${o.home}/${KEY_FILE}`, { force: true });
  return { key, built };
}

/**
 * Keeps the build of a home that started after augmenting, for later homes with the same providers
 * (replacing a kept one that Keycloak did not take: `replace`).
 */
export function saveBuild(home: string, version: string, key: string, replace = false, toolsDir = TOOLS_DIR) {
  writeFileSync(`${home}/${KEY_FILE}`, `${key}\n`);
  const dir = keycloakBuildsDir(version, toolsDir);
  const kept = `${dir}/${key}`;
  if (!replace && existsSync(`${kept}/quarkus-application.dat`)) return;
  mkdirSync(dir, { recursive: true });
  const partial = `${kept}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  cpSync(`${home}/lib/quarkus`, partial, { recursive: true });
  rmSync(kept, { recursive: true, force: true });
  renameSync(partial, kept);
  const builds = readdirSync(dir)
    .filter((d) => !d.includes('.partial-'))
    .map((d) => ({ d, at: statSync(`${dir}/${d}`).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  for (const { d } of builds.slice(BUILDS_KEPT)) rmSync(`${dir}/${d}`, { recursive: true, force: true });
}
