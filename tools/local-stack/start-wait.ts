/**
 * Waits for a local service that is starting, following what it does rather than a fixed deadline:
 * as long as its process runs and shows progress (its logs grow, it uses CPU, files appear in its
 * data folder) it is given time, up to a generous ceiling on a first start; it says what it waits
 * for every few seconds; it fails at once, with the service's log, when the process dies.
 */
import { type Dirent, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLOCK_TICKS_PER_SECOND, isRunning, procInfo } from './proc.ts';
import { type LogMark, linesSince, logGrowth, StartError } from './start-error.ts';

export interface StartLimits {
  /** give up when nothing moved (log output, CPU time, files in the data folder) for this long */
  stallMs: number;
  /** give up after this long in any case */
  ceilingMs: number;
  /** say what it waits for this often */
  reportEveryMs: number;
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(
      `${name}=${JSON.stringify(raw)} must be a positive number of seconds (default ${fallback})`,
    );
  return value;
}

/** The limits of one start: a first start (empty data folder) may take much longer. */
export function startLimits(firstStart: boolean, env: NodeJS.ProcessEnv = process.env): StartLimits {
  return {
    ceilingMs: seconds(env, 'TOKENWATCH_STACK_START_TIMEOUT_SECONDS', firstStart ? 600 : 180) * 1000,
    stallMs: seconds(env, 'TOKENWATCH_STACK_STALL_SECONDS', 120) * 1000,
    reportEveryMs: 5000,
  };
}

export interface StartWatch {
  /** what is awaited, e.g. "ClickHouse at http://127.0.0.1:18123" */
  what: string;
  /** what it is doing, for the progress lines, e.g. "first start: creating its system tables" */
  doing: string;
  pid: number;
  /** how the process ended, once it has (known when this process spawned it) */
  exitStatus?: () => string | undefined;
  /** true once the service answers; otherwise why not ("connection refused") */
  probe: () => Promise<true | string>;
  /** the service's logs, marked when the start began (error log first) */
  logs: LogMark[];
  /** a folder whose new files count as progress */
  dataDir?: string;
  limits: StartLimits;
  log: (msg: string) => void;
  /** what the failure message advises */
  advice: string[];
  signal?: AbortSignal | undefined;
}

/** Entries in `dir` down to `depth` levels, at most `cap`. */
function countEntries(dir: string, depth: number, cap = 10_000): number {
  let n = 0;
  const walk = (d: string, left: number) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (++n >= cap) return;
      if (left > 1 && e.isDirectory()) walk(`${d}/${e.name}`, left - 1);
    }
  };
  walk(dir, depth);
  return n;
}

interface Activity {
  cpuTicks: number;
  logBytes: number;
  files: number;
}

const activityOf = (w: StartWatch): Activity => ({
  cpuTicks: procInfo(w.pid)?.cpuTicks ?? 0,
  logBytes: logGrowth(w.logs),
  files: w.dataDir === undefined ? 0 : countEntries(w.dataDir, 3),
});

const moved = (a: Activity, b: Activity) =>
  a.cpuTicks !== b.cpuTicks || a.logBytes !== b.logBytes || a.files !== b.files;

const secs = (ms: number) => `${Math.round(ms / 1000)} s`;

/** The newest log line this start wrote, shortened, if any. */
function lastLogLine(logs: LogMark[]): string | undefined {
  for (const mark of logs) {
    const [line] = linesSince(mark, 1);
    if (line !== undefined) return line.length > 140 ? `${line.slice(0, 137)}…` : line;
  }
  return undefined;
}

/** How the process ended: its exit status, once this process has reaped it (a moment after it died). */
async function howItEnded(w: StartWatch): Promise<string> {
  for (let i = 0; i < 20 && w.exitStatus !== undefined; i++) {
    const status = w.exitStatus();
    if (status !== undefined) return status;
    await sleep(50);
  }
  return 'its process is gone';
}

/** Resolves once `w.probe` answers; throws a StartError when the process dies, stalls or takes too long. */
export async function waitForStart(w: StartWatch): Promise<void> {
  const { stallMs, ceilingMs, reportEveryMs } = w.limits;
  const began = Date.now();
  let lastMove = began;
  let lastReport = began;
  let lastSample = began;
  let activity = activityOf(w);
  const fail = (summary: string) => new StartError(summary, w.logs, w.advice);
  for (;;) {
    if (w.signal?.aborted)
      throw fail(`the start of ${w.what} was interrupted after ${secs(Date.now() - began)}`);
    const answer = await w.probe().catch((err: Error) => err.message);
    if (answer === true) return;
    const now = Date.now();
    const exit = w.exitStatus?.() ?? (isRunning(w.pid) ? undefined : await howItEnded(w));
    if (exit !== undefined)
      throw fail(`${w.what} exited during start-up (${exit}) after ${((now - began) / 1000).toFixed(1)} s`);
    const reportDue = now - lastReport >= reportEveryMs;
    if (now - lastSample >= 1000 || reportDue) {
      const next = activityOf(w);
      if (moved(next, activity)) lastMove = now;
      activity = next;
      lastSample = now;
    }
    if (now - lastMove > stallMs)
      throw fail(
        `${w.what} showed no sign of progress for ${secs(now - lastMove)} (no log output, no CPU time, ` +
          `no new files) and still does not answer (${answer}); given up after ${secs(now - began)} ` +
          `(TOKENWATCH_STACK_STALL_SECONDS=${stallMs / 1000})`,
      );
    if (now - began > ceilingMs)
      throw fail(
        `${w.what} still does not answer (${answer}) after ${secs(now - began)}, though its process runs ` +
          `(TOKENWATCH_STACK_START_TIMEOUT_SECONDS=${ceilingMs / 1000})`,
      );
    if (reportDue) {
      const first = lastReport === began;
      lastReport = now;
      const line = lastLogLine(w.logs);
      w.log(
        `waiting for ${w.what} (${w.doing}; pid ${w.pid}): ${secs(now - began)} so far, ${answer}; ` +
          `CPU ${(activity.cpuTicks / CLOCK_TICKS_PER_SECOND).toFixed(1)} s` +
          (activity.logBytes > 0 ? `, log +${activity.logBytes} bytes` : '') +
          (w.dataDir === undefined ? '' : `, ${activity.files} entries in its data folder`) +
          (line === undefined ? '' : `; last log line: ${line}`) +
          (first ? ` (gives up after ${secs(stallMs)} without progress, or ${secs(ceilingMs)} in all)` : ''),
      );
    }
    await sleep(250, undefined, w.signal ? { signal: w.signal } : {}).catch(() => undefined);
  }
}
