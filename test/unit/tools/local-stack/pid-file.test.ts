/**
 * Pid files are trusted only when /proc confirms them: a pid file naming an unrelated live process,
 * a dead pid or a reused pid (another start time) is removed and nothing is signalled; one naming
 * the service is stopped, with its process group. Real processes throughout.
 */
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { checkPidFile, readPidFile, writePidFile } from '../../../../tools/local-stack/pid-file.ts';
import { isRunning, procInfo, statFields } from '../../../../tools/local-stack/proc.ts';
import { spawnDetached, stopPidFile } from '../../../../tools/local-stack/process.ts';
import { cleanUp, gone, startProcess, startSleeper, tempFolder } from './processes.ts';

afterEach(cleanUp);

const IDENTITY = '--config-file=/srv/tokenwatch-test/config.xml';

describe('pid files', () => {
  it('record the pid and its start time from /proc/<pid>/stat', () => {
    const dir = tempFolder();
    const pid = startSleeper(30);
    writePidFile(`${dir}/svc.pid`, pid);
    const startTime = procInfo(pid)!.startTime;
    expect(startTime).toMatch(/^\d+$/);
    expect(readFileSync(`${dir}/svc.pid`, 'utf8')).toBe(`${pid} ${startTime}\n`);
    expect(readPidFile(`${dir}/svc.pid`)).toEqual({ pid, startTime });
  });

  it('a pid file naming a live unrelated process: nothing is killed and the file is removed', async () => {
    const dir = tempFolder();
    for (const withStartTime of [true, false]) {
      const unrelated = startProcess('sleep', ['30']); // leads its own group, as a real service would
      const file = `${dir}/clickhouse.pid`;
      if (withStartTime) writePidFile(file, unrelated);
      else writeFileSync(file, String(unrelated)); // a pid file of the old kind: pid only
      const result = await stopPidFile(file, IDENTITY, 500);
      expect(result.stopped).toBe(false);
      expect(result.note).toContain(`process ${unrelated} is \`sleep 30\``);
      expect(existsSync(file)).toBe(false);
      await new Promise((r) => setTimeout(r, 100));
      expect(isRunning(unrelated)).toBe(true);
    }
  });

  it('a reused pid (the right command line, another start time): nothing is killed, the file is removed', async () => {
    const dir = tempFolder();
    const pid = startSleeper(30, IDENTITY);
    const startTime = Number(procInfo(pid)!.startTime);
    writeFileSync(`${dir}/svc.pid`, `${pid} ${startTime - 1}\n`);
    const check = checkPidFile(`${dir}/svc.pid`, IDENTITY);
    expect(check).toEqual({ state: 'stale', reason: expect.stringContaining('the pid was reused') });
    expect(existsSync(`${dir}/svc.pid`)).toBe(false);
    expect(isRunning(pid)).toBe(true);
  });

  it('a pid file for a dead pid is removed; nothing is signalled', async () => {
    const dir = tempFolder();
    const pid = startProcess('true', []);
    expect(await gone(pid)).toBe(true);
    writeFileSync(`${dir}/svc.pid`, `${pid} 12345\n`);
    const result = await stopPidFile(`${dir}/svc.pid`, IDENTITY, 500);
    expect(result).toEqual({ stopped: false, note: expect.stringContaining(`no process ${pid} runs`) });
    expect(existsSync(`${dir}/svc.pid`)).toBe(false);
  });

  it('a pid file that holds no pid is removed', () => {
    const dir = tempFolder();
    writeFileSync(`${dir}/svc.pid`, 'garbage\n');
    expect(checkPidFile(`${dir}/svc.pid`, IDENTITY)).toEqual({
      state: 'stale',
      reason: 'it holds no pid ("garbage\\n")',
    });
    expect(existsSync(`${dir}/svc.pid`)).toBe(false);
    expect(checkPidFile(`${dir}/svc.pid`, IDENTITY)).toEqual({ state: 'none' });
  });

  it('a matching pid file is stopped, with what its process started (its group)', async () => {
    const dir = tempFolder();
    const service = spawnDetached(
      'sh',
      ['-c', 'sleep 30 & wait', 'svc', IDENTITY],
      `${dir}/svc.log`,
      `${dir}/svc.pid`,
    );
    await new Promise((r) => setTimeout(r, 200));
    const child = Number(
      readFileSync(`/proc/${service.pid}/task/${service.pid}/children`, 'utf8').trim().split(' ')[0],
    );
    expect(procInfo(child)?.cmdline).toEqual(['sleep', '30']);
    expect(checkPidFile(`${dir}/svc.pid`, IDENTITY)).toEqual({ state: 'running', pid: service.pid });
    expect(await stopPidFile(`${dir}/svc.pid`, IDENTITY, 2000)).toEqual({ stopped: true });
    expect(await gone(service.pid)).toBe(true);
    expect(await gone(child)).toBe(true);
    expect(existsSync(`${dir}/svc.pid`)).toBe(false);
  });

  it('with no grace period the service is killed as in a crash: it never hears SIGTERM', async () => {
    const dir = tempFolder();
    const heard = `${dir}/heard-term`;
    const service = spawnDetached(
      'sh',
      ['-c', `trap 'echo term > ${heard}; exit 0' TERM; sleep 30 & wait`, 'svc', IDENTITY],
      `${dir}/svc.log`,
      `${dir}/svc.pid`,
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(await stopPidFile(`${dir}/svc.pid`, IDENTITY, 0)).toEqual({ stopped: true });
    expect(await gone(service.pid)).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(service.exitStatus()).toBe('signal SIGKILL');
    expect(existsSync(heard)).toBe(false);
  });

  it("a process is stopped by its spawner at once, even before it exec'd its program", async () => {
    const dir = tempFolder();
    const proc = spawnDetached(
      'sh',
      ['-c', 'sleep 30; true', 'svc', IDENTITY],
      `${dir}/svc.log`,
      `${dir}/svc.pid`,
    );
    await proc.stop(2000);
    expect(proc.exitStatus()).toBe('signal SIGTERM');
    expect(await gone(proc.pid, 100)).toBe(true);
    expect(existsSync(`${dir}/svc.pid`)).toBe(false);
  });

  it('an old pid file (pid only) naming the service is trusted by its command line and stopped', async () => {
    const dir = tempFolder();
    const pid = startSleeper(30, IDENTITY);
    writeFileSync(`${dir}/svc.pid`, `${pid}\n`);
    expect(await stopPidFile(`${dir}/svc.pid`, IDENTITY, 2000)).toEqual({ stopped: true });
    expect(await gone(pid)).toBe(true);
  });
});

describe('/proc', () => {
  it('reads stat fields after the command name, whatever it holds', async () => {
    expect(statFields('42 (a) b (c) S 1 42 42 0 -1')).toEqual(['S', '1', '42', '42', '0', '-1']);
    const dir = tempFolder();
    symlinkSync('/bin/sleep', `${dir}/we ird) (name`);
    const pid = startProcess(`${dir}/we ird) (name`, ['30']);
    await new Promise((r) => setTimeout(r, 100));
    const info = procInfo(pid)!;
    expect(info.cmdline).toEqual([`${dir}/we ird) (name`, '30']);
    expect(info.pgrp).toBe(pid);
    expect(info.state).toBe('S');
    expect(info.startTime).toMatch(/^\d+$/);
  });

  it('knows a zombie and a missing process are not running', async () => {
    expect(isRunning(process.pid)).toBe(true);
    expect(procInfo(2 ** 22 + 1)).toBeUndefined();
    // sh starts `true` in the background, then becomes a sleep that never reaps it: a zombie
    const parent = startProcess('sh', ['-c', 'true & exec sleep 30']);
    await new Promise((r) => setTimeout(r, 300));
    const [zombie] = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim().split(' ');
    expect(procInfo(Number(zombie))?.state).toBe('Z');
    expect(isRunning(Number(zombie))).toBe(false);
    expect(isRunning(parent)).toBe(true);
  });
});
