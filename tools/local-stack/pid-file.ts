/**
 * Pid files of the local stack's services: `<pid> <start time>` (the start time is field 22 of
 * /proc/<pid>/stat, recorded when the service is started). A pid file is trusted only when /proc
 * shows a process with that pid, that start time and a command line holding the service's identity
 * argument (its config file); otherwise it is stale — after a reboot or a crash its pid may name an
 * unrelated process — and is removed, and nothing is signalled. Old pid files (pid only) are read
 * too: for them the command line alone decides.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { procInfo } from './proc.ts';

export interface PidRecord {
  pid: number;
  /** absent in pid files written before start times were recorded */
  startTime?: string;
}

/** Records `pid` and its start time in `file`. */
export function writePidFile(file: string, pid: number): void {
  const startTime = procInfo(pid)?.startTime;
  writeFileSync(file, startTime ? `${pid} ${startTime}\n` : `${pid}\n`);
}

/** The pid file's record; undefined when it is missing, and `invalid` with what it held when unreadable. */
export function readPidFile(file: string): PidRecord | { invalid: string } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^\s*(\d+)(?:\s+(\d+))?\s*$/.exec(text);
  const pid = Number(m?.[1]);
  if (m === null || !Number.isSafeInteger(pid) || pid <= 0) return { invalid: text.slice(0, 80) };
  return m[2] === undefined ? { pid } : { pid, startTime: m[2] };
}

export type PidCheck =
  | { state: 'none' }
  | { state: 'running'; pid: number }
  | { state: 'stale'; reason: string };

/** The command line, shortened, for messages. */
const shown = (cmdline: string[]) => {
  const text = cmdline.join(' ');
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
};

/**
 * Whether the pid file names the running service whose command line holds the argument `identity`.
 * A stale file is removed; the reason says what it named instead.
 */
export function checkPidFile(file: string, identity: string): PidCheck {
  const record = readPidFile(file);
  if (record === undefined) return { state: 'none' };
  const stale = (reason: string): PidCheck => {
    rmSync(file, { force: true });
    return { state: 'stale', reason };
  };
  if ('invalid' in record) return stale(`it holds no pid (${JSON.stringify(record.invalid)})`);
  const info = procInfo(record.pid);
  if (info === undefined || info.state === 'Z') return stale(`no process ${record.pid} runs`);
  if (record.startTime !== undefined && info.startTime !== record.startTime)
    return stale(
      `process ${record.pid} started at tick ${info.startTime} after boot, not at ${record.startTime}: ` +
        `the pid was reused (\`${shown(info.cmdline)}\`)`,
    );
  if (!info.cmdline.includes(identity))
    return stale(`process ${record.pid} is \`${shown(info.cmdline)}\`, which is not given ${identity}`);
  return { state: 'running', pid: record.pid };
}
