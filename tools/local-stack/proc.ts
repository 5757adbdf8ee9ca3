/**
 * What Linux's /proc says about a process: its command line, start time (clock ticks after boot,
 * /proc/<pid>/stat field 22), state, process group and CPU time. The local stack uses it to tell its
 * own services from unrelated processes that reuse a pid, and to see that a starting service works.
 */
import { readFileSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  /** argv as the process has it now (after an exec: the new program's) */
  cmdline: string[];
  /** field 22 of /proc/<pid>/stat: when it started, in clock ticks after boot; the same across exec */
  startTime: string;
  /** field 3: R, S, D, Z (zombie), … */
  state: string;
  /** field 5: the process group */
  pgrp: number;
  /** fields 14 + 15: user + system CPU time of all its threads, in clock ticks */
  cpuTicks: number;
}

/**
 * Fields 3… of a /proc/<pid>/stat line, index 0 being field 3. Field 2 is the command name in
 * parentheses, which may itself hold spaces and parentheses: the fields start after the last ')'.
 */
export function statFields(stat: string): string[] {
  const end = stat.lastIndexOf(')');
  if (end < 0) throw new Error(`not a /proc/<pid>/stat line: ${JSON.stringify(stat.slice(0, 80))}`);
  return stat
    .slice(end + 1)
    .trim()
    .split(/\s+/);
}

/** The process `pid` as /proc shows it, or undefined when there is none (or no /proc). */
export function procInfo(pid: number): ProcInfo | undefined {
  let stat: string;
  let cmdline: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
  const f = statFields(stat);
  const field = (n: number) => f[n - 3] ?? '';
  return {
    pid,
    cmdline: cmdline === '' ? [] : cmdline.replace(/\0$/, '').split('\0'),
    startTime: field(22),
    state: field(3),
    pgrp: Number(field(5)),
    cpuTicks: Number(field(14)) + Number(field(15)),
  };
}

/** Whether `pid` is a process that still runs: it exists and is not a zombie waiting to be reaped. */
export function isRunning(pid: number): boolean {
  const info = procInfo(pid);
  return info !== undefined && info.state !== 'Z' && info.state !== 'X';
}

/** Clock ticks per second of /proc's times (USER_HZ): 100 on every Linux we run on. */
export const CLOCK_TICKS_PER_SECOND = 100;
