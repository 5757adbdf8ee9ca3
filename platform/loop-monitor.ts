/**
 * How long the event loop was held by work: a 10 ms timer reads the main thread's CPU time at each
 * tick, and a late tick whose interval also used that much CPU means the loop was busy, not waiting
 * for the operating system to schedule it. `monitorEventLoopDelay` (prom-client's
 * `nodejs_eventloop_lag_*`) measures lateness alone, which on a loaded two-core machine includes
 * the time other processes had the CPU; this separates the two, so a bound on blocking can be held.
 */

const TICK_MS = 10;

export interface LoopMonitor {
  /** the most main-thread CPU time one late tick interval used (ms) since the last call, then reset */
  takeMaxBlockedMs(): number;
  stop(): void;
}

const threadCpuMs = (): number => {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
};

export function startLoopMonitor(): LoopMonitor {
  let lastWall = performance.now();
  let lastCpu = threadCpuMs();
  let max = 0;
  const timer = setInterval(() => {
    const wall = performance.now();
    const cpu = threadCpuMs();
    // Held for as long as the interval used the CPU, at most its wall time (threads of the
    // process other than the main one are not counted: threadCpuUsage is this thread's).
    if (wall - lastWall > TICK_MS * 2) max = Math.max(max, Math.min(cpu - lastCpu, wall - lastWall));
    lastWall = wall;
    lastCpu = cpu;
  }, TICK_MS);
  timer.unref();
  return {
    takeMaxBlockedMs() {
      const m = max;
      max = 0;
      return m;
    },
    stop: () => clearInterval(timer),
  };
}
