/**
 * Small helpers for the local stack: free ports, waiting for a child service, detached processes
 * with pid files, and stopping them only when their pid file is trusted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkPidFile, writePidFile } from './pid-file.ts';
import { isRunning, procInfo } from './proc.ts';
import { StartError } from './start-error.ts';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * Waits until the service `child` runs answers 200 on `<url><path>` (default /readyz); throws at
 * once if the child exits, and after `timeoutMs` naming `what`.
 */
export async function waitUntilReady(
  url: string,
  child: ChildProcess,
  what: string,
  timeoutMs = 60_000,
  path = '/readyz',
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`${what} exited with code ${child.exitCode}; see its log above`);
    if (
      // a deadline per request: a port held by something that never answers must not hang the wait
      await fetch(`${url}${path}`, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await sleep(200);
  }
  throw new Error(`${what} did not become ready on ${url}${path} within ${timeoutMs / 1000} s`);
}

/** SIGTERM to a child process, resolved once it exited (at once if it already had). */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Whether nothing listens on 127.0.0.1:`port` (we could listen there ourselves). */
export async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Refuses to start a service when another program holds one of its ports: [what, port]. */
export async function requirePortsFree(ports: [string, number][]): Promise<void> {
  for (const [name, port] of ports) {
    if (await portFree(port)) continue;
    throw new StartError(
      `${name} port ${port} on 127.0.0.1 is in use by another program`,
      [],
      [`see what listens there: ss -ltnp 'sport = :${port}'`, 'stop it, or choose another port'],
    );
  }
}

/** A process started by spawnDetached. */
export interface DetachedProcess {
  pid: number;
  /** how it ended ("exit code 1", "signal SIGKILL"), once it has */
  exitStatus: () => string | undefined;
  /**
   * Stops it and its group (TERM, KILL after `graceMs`) and removes its pid file. For the spawner:
   * it needs no pid-file check, so it works even before the process has exec'd its program.
   */
  stop: (graceMs: number) => Promise<void>;
}

/**
 * Starts a long-running process in its own process group, output to `logFile` (environment `env`,
 * default this process's); records its pid and start time in `pidFile` (tools/local-stack/pid-file.ts).
 */
export function spawnDetached(
  command: string,
  args: string[],
  logFile: string,
  pidFile: string,
  env?: NodeJS.ProcessEnv,
): DetachedProcess {
  const out = openSync(logFile, 'a');
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', out, out],
    ...(env ? { env } : {}),
  });
  closeSync(out);
  let ended: string | undefined;
  let failed: string | undefined;
  child.once('error', (err) => {
    failed = err.message;
  });
  child.once('exit', (code, signal) => {
    ended = signal === null ? `exit code ${code}` : `signal ${signal}`;
  });
  child.unref();
  if (child.pid === undefined)
    throw new Error(`could not start ${command}: no such program, or not executable`);
  const pid = child.pid;
  writePidFile(pidFile, pid);
  const exitStatus = () => failed ?? ended;
  return {
    pid,
    exitStatus,
    async stop(graceMs) {
      rmSync(pidFile, { force: true });
      await terminate(-pid, graceMs, () => exitStatus() === undefined);
    },
  };
}

/**
 * TERM to `target` (a pid, or a group as -pid), KILL after `graceMs`; resolves once `running()` is
 * false. `graceMs` 0: KILL at once, no TERM (a crash, for fault tests).
 */
async function terminate(target: number, graceMs: number, running: () => boolean) {
  if (graceMs > 0) signal(target, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (running() && Date.now() < deadline) await sleep(100);
  if (running()) signal(target, 'SIGKILL');
  while (running()) await sleep(50);
}

export interface StopResult {
  stopped: boolean;
  /** why nothing was stopped: no pid file, or a stale one (removed) and what its pid names now */
  note?: string;
}

/**
 * Stops the service behind `pidFile` — its process group, TERM, then KILL after `graceMs` (0: KILL
 * at once, as a crash would end it) — once
 * /proc confirms the pid is the service whose command line holds `identity` (tools/local-stack/pid-file.ts);
 * a stale pid file is removed and nothing is signalled.
 */
export async function stopPidFile(pidFile: string, identity: string, graceMs = 10_000): Promise<StopResult> {
  const check = checkPidFile(pidFile, identity);
  if (check.state === 'none') return { stopped: false, note: 'no pid file' };
  if (check.state === 'stale')
    return { stopped: false, note: `stale pid file ${pidFile} removed: ${check.reason}` };
  const { pid } = check;
  rmSync(pidFile, { force: true });
  // spawnDetached makes the service lead its own group: the group holds what it started (a wrapper's
  // child); a process that does not lead a group is signalled alone
  await terminate(procInfo(pid)?.pgrp === pid ? -pid : pid, graceMs, () => isRunning(pid));
  return { stopped: true };
}

/**
 * Sends `name` to `target` (a pid, or a group as -pid). A group that does not exist yet — a child
 * signalled before it made its own group — gets it at its pid.
 */
function signal(target: number, name: NodeJS.Signals) {
  try {
    process.kill(target, name);
  } catch {
    try {
      if (target < 0) process.kill(-target, name);
    } catch {
      /* already gone */
    }
  }
}
