/**
 * How the local stack starts one of its servers (ClickHouse, Kafka): reuse it when its pid file is
 * trusted and it answers; wait for it when it is ours and still starting; otherwise check its ports,
 * write its config, spawn it detached and follow its start (tools/local-stack/start-wait.ts). A start that fails
 * stops the process it spawned, so it leaves nothing running.
 */
import { checkPidFile } from './pid-file.ts';
import { type DetachedProcess, requirePortsFree } from './process.ts';
import type { LogMark } from './start-error.ts';
import { startLimits, waitForStart } from './start-wait.ts';

export interface LaunchSpec {
  /** "ClickHouse", "Kafka 3.9.2" */
  name: string;
  /** "ClickHouse at http://127.0.0.1:18123" */
  what: string;
  pidFile: string;
  /** the argument its command line holds (its config file): what its pid file is checked against */
  identity: string;
  probe: () => Promise<true | string>;
  /** its logs, error log first, marked before anything is started */
  logs: LogMark[];
  dataDir: string;
  /** its data folder is new: the start may take much longer */
  firstStart: boolean;
  /** what a first start does, for the progress lines */
  firstStartDoing: string;
  /** [what, port] that must be free before it starts */
  ports: [string, number][];
  advice: string[];
  /** advice when a process this call spawned failed */
  spawnedAdvice: string[];
  /** writes its config (once its ports are known to be free) */
  prepare: () => Promise<void> | void;
  spawn: () => DetachedProcess;
  /** how long a failed start's process gets to exit on SIGTERM before SIGKILL */
  stopGraceMs: number;
  log: (msg: string) => void;
  signal?: AbortSignal | undefined;
}

/** Starts the server (or finds it running); true when this call started it. */
export async function launchService(s: LaunchSpec): Promise<{ startedNow: boolean }> {
  const watch = {
    what: s.what,
    probe: s.probe,
    logs: s.logs,
    dataDir: s.dataDir,
    log: s.log,
    signal: s.signal,
  };
  const running = checkPidFile(s.pidFile, s.identity);
  if (running.state === 'running') {
    if ((await s.probe().catch(() => false)) === true) return { startedNow: false };
    // ours, started by an earlier command and not answering yet: wait for it, but leave it be if it fails
    await waitForStart({
      ...watch,
      doing: 'started earlier, still starting',
      pid: running.pid,
      limits: startLimits(false),
      advice: s.advice,
    });
    return { startedNow: false };
  }
  if (running.state === 'stale') s.log(`${s.name}: ignoring a stale pid file: ${running.reason}`);
  await requirePortsFree(s.ports);
  await s.prepare();
  s.log(`starting ${s.what}${s.firstStart ? ' (first start)' : ''}`);
  const proc = s.spawn();
  try {
    await waitForStart({
      ...watch,
      doing: s.firstStart ? s.firstStartDoing : 'starting',
      pid: proc.pid,
      exitStatus: proc.exitStatus,
      limits: startLimits(s.firstStart),
      advice: [...s.advice, ...s.spawnedAdvice],
    });
  } catch (err) {
    await proc.stop(s.stopGraceMs);
    throw err;
  }
  return { startedNow: true };
}
