/**
 * A real Keycloak for local use and tests: its distribution from Maven Central (keycloak-dist.ts),
 * run with the machine's Java 17 in `start-dev` on 127.0.0.1, from a light home in `dir` that holds
 * its providers, build and data (keycloak-home.ts), the bootstrap admin given by
 * KC_BOOTSTRAP_ADMIN_USERNAME/_PASSWORD (used when the master realm is created, i.e. on a first start).
 * Its settings are written to `dir`/keycloak.conf, passed as -Dkc.config.file (what its pid file is
 * checked against; kc.sh keeps it when it relaunches Java after augmenting). Its start is followed (start-wait.ts), not timed out: the first start with new
 * providers augments the server (~25 s more); later ones reuse that build.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_KEYCLOAK_VERSION, ensureKeycloakDist } from './keycloak-dist.ts';
import { plannedBuild, prepareHome, saveBuild } from './keycloak-home.ts';
import { launchService } from './launch.ts';
import { checkPidFile, type PidCheck } from './pid-file.ts';
import { type StopResult, spawnDetached, stopPidFile } from './process.ts';
import { linesSince, markLogs } from './start-error.ts';

export { DEFAULT_KEYCLOAK_VERSION } from './keycloak-dist.ts';

export interface KeycloakServerOptions {
  /** its folder: config, log, pid file, and its home (scripts, providers, build, data) */
  dir: string;
  httpPort: number;
  version?: string;
  /** provider jars for its providers/ folder (e.g. the tokenwatch listener, keycloak-listener-jar.ts) */
  providers?: string[];
  /** the bootstrap admin of the master realm (created on the first start only) */
  adminUsername?: string;
  adminPassword?: string;
  /** more keycloak.conf options, by name without dashes: { 'spi-events-listener--tokenwatch--url': … } */
  options?: Record<string, string>;
  heapMb?: number;
  /** where progress lines go (default stderr) */
  log?: (msg: string) => void;
  /** aborts the start; a server this call started is stopped again */
  signal?: AbortSignal | undefined;
}

export interface RunningKeycloak {
  /** e.g. http://127.0.0.1:18080 */
  url: string;
  adminUsername: string;
  adminPassword: string;
  home: string;
  pidFile: string;
  logFile: string;
  /** false when it was running already (this call did not start it) */
  startedNow: boolean;
  /** whether this start augmented the server (no kept build for its providers) */
  augmented: boolean;
  /** how long this start took, ms (0 when it was running already) */
  startMs: number;
}

export const DEFAULT_ADMIN_USERNAME = 'admin';
export const DEFAULT_ADMIN_PASSWORD = 'tokenwatch-local-admin';

/** How long it gets to exit on SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 20_000;

const confFile = (dir: string) => `${dir}/keycloak.conf`;
/** The argument that names this server in its command line, before and after kc.sh relaunches Java. */
const identity = (dir: string) => `-Dkc.config.file=${confFile(dir)}`;

function keycloakConf(o: KeycloakServerOptions): string {
  const entries: Record<string, string> = {
    'http-host': '127.0.0.1',
    'http-port': String(o.httpPort),
    ...o.options,
  };
  for (const [name, value] of Object.entries(entries))
    if (name.startsWith('-') || /[\n=]/.test(name) || value.includes('\n'))
      throw new Error(
        `Keycloak option ${JSON.stringify(name)}=${JSON.stringify(value)} cannot go in keycloak.conf: ` +
          "give the name without leading dashes (e.g. 'spi-events-listener--tokenwatch--url') and a one-line value",
      );
  return `# written by tools/local-stack/keycloak.ts\n${Object.entries(entries)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

/** true once Keycloak serves its master realm; otherwise why not. */
async function keycloakAnswers(url: string): Promise<true | string> {
  try {
    const res = await fetch(`${url}/realms/master`, { signal: AbortSignal.timeout(2000) });
    return res.ok || `/realms/master answered ${res.status}`;
  } catch (err) {
    const cause = (err as Error).cause;
    return `not answering yet (${cause instanceof Error ? cause.message : (err as Error).message})`;
  }
}

/** Starts (or finds already running) a Keycloak with its home and data in `o.dir`. */
export async function startKeycloak(o: KeycloakServerOptions): Promise<RunningKeycloak> {
  const log = o.log ?? console.error;
  const dir = resolve(o.dir);
  const version = o.version ?? DEFAULT_KEYCLOAK_VERSION;
  const dist = await ensureKeycloakDist(version, log, o.signal);
  mkdirSync(dir, { recursive: true });
  const home = `${dir}/home`;
  const url = `http://127.0.0.1:${o.httpPort}`;
  const pidFile = `${dir}/keycloak.pid`;
  const logFile = `${dir}/keycloak.log`;
  const adminUsername = o.adminUsername ?? DEFAULT_ADMIN_USERNAME;
  const adminPassword = o.adminPassword ?? DEFAULT_ADMIN_PASSWORD;
  const homeOptions = { dist, version, home, providers: (o.providers ?? []).map((p) => resolve(p)) };
  const planned = plannedBuild(homeOptions);
  const newData = !existsSync(`${home}/data/h2`) || readdirSync(`${home}/data/h2`).length === 0;
  const logs = markLogs([logFile]);
  const began = Date.now();
  const { startedNow } = await launchService({
    name: 'Keycloak',
    what: `Keycloak ${version} at ${url}`,
    pidFile,
    identity: identity(dir),
    probe: () => keycloakAnswers(url),
    logs,
    dataDir: `${home}/data`,
    firstStart: !planned.built || newData,
    firstStartDoing: planned.built
      ? 'first start: creating its database and master realm'
      : 'first start with these providers: augmenting the server (once), then creating its database',
    ports: [['Keycloak HTTP', o.httpPort]],
    advice: [
      `its log: ${logFile}`,
      `run it by hand to see it start: ${home}/bin/kc.sh ${identity(dir)} start-dev`,
    ],
    spawnedAdvice: [`if its data is damaged, remove ${home}/data to start empty (its realms go with it)`],
    prepare: () => {
      prepareHome(homeOptions);
      writeFileSync(confFile(dir), keycloakConf(o), { mode: 0o600 });
    },
    spawn: () =>
      spawnDetached(`${home}/bin/kc.sh`, [identity(dir), 'start-dev'], logFile, pidFile, {
        ...process.env,
        KC_BOOTSTRAP_ADMIN_USERNAME: adminUsername,
        KC_BOOTSTRAP_ADMIN_PASSWORD: adminPassword,
        JAVA_OPTS_KC_HEAP: `-Xms64m -Xmx${o.heapMb ?? 512}m`,
      }),
    stopGraceMs: STOP_GRACE_MS,
    log,
    signal: o.signal,
  });
  // Keycloak says so when it augments; its build is then kept for the next home with these providers
  const augmented = startedNow && linesSince(logs[0]!, 400).some((l) => l.includes('augmentation completed'));
  if (augmented) saveBuild(home, version, planned.key, planned.built);
  const startMs = startedNow ? Date.now() - began : 0;
  if (startedNow)
    log(
      `Keycloak ${version} up at ${url} in ${(startMs / 1000).toFixed(1)} s${augmented ? ' (augmented)' : ''}`,
    );
  return { url, adminUsername, adminPassword, home, pidFile, logFile, startedNow, augmented, startMs };
}

/**
 * Stops the Keycloak of `dir`: SIGTERM (SIGKILL after a grace period), or with `crash` SIGKILL at
 * once — no shutdown, what it had not written is lost (for fault tests; its H2 data is kept).
 */
export async function stopKeycloak(dir: string, o: { crash?: boolean } = {}): Promise<StopResult> {
  const abs = resolve(dir);
  return stopPidFile(`${abs}/keycloak.pid`, identity(abs), o.crash === true ? 0 : STOP_GRACE_MS);
}

/** Whether `dir`'s pid file names its running Keycloak (a stale one is removed). */
export function keycloakPidCheck(dir: string): PidCheck {
  const abs = resolve(dir);
  return checkPidFile(`${abs}/keycloak.pid`, identity(abs));
}
