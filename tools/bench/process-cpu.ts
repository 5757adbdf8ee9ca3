/** The CPU time another process has used so far (user + system), read from /proc (Linux). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Milliseconds of CPU process `pid` has used (all its threads); throws naming the pid where /proc has none. */
export function processCpuMs(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    throw new Error(
      `cannot read the CPU time of process ${pid} from /proc/${pid}/stat (${(err as Error).message}): the benchmark measures CPU on Linux only, and the process must be running`,
    );
  }
  // after "pid (comm) ": field 3 (state) is [0]; utime (14) and stime (15) are [11] and [12]
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
}
