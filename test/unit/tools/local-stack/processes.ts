/**
 * Real processes for the infra unit tests: sleepers started in their own process group (as the
 * stack's services are), a temporary folder, and a clean-up that ends whatever a test left.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isRunning } from '../../../../tools/local-stack/proc.ts';

const started: ChildProcess[] = [];
const folders: string[] = [];

/** A process of `command args` that runs until ended, leading its own process group. */
export function startProcess(command: string, args: string[]): number {
  const child = spawn(command, args, { detached: true, stdio: 'ignore' });
  child.unref();
  started.push(child);
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  return child.pid;
}

/** A sh that sleeps (not exec'ing sleep: `; true` keeps sh as the process) with `extra` as its arguments. */
export const startSleeper = (seconds: number, ...extra: string[]) =>
  startProcess('sh', ['-c', `sleep ${seconds}; true`, 'sleeper', ...extra]);

export function tempFolder(): string {
  const dir = mkdtempSync(`${tmpdir()}/tokenwatch-infra-test-`);
  folders.push(dir);
  return dir;
}

/** Resolves once `pid` no longer runs (or after `ms`). */
export async function gone(pid: number, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isRunning(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return !isRunning(pid);
}

/** Ends what the tests started (by pid, each in its own group) and removes their folders. */
export function cleanUp() {
  for (const child of started.splice(0)) {
    if (child.pid !== undefined && isRunning(child.pid)) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
  }
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
}
