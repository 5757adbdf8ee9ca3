/**
 * The start-up wait follows the process: it gives a working process time, says what it waits for,
 * fails at once with the log when the process dies, and gives up on one that shows no progress or
 * takes longer than its ceiling. Real processes, small limits.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnDetached } from '../../../../tools/local-stack/process.ts';
import { markLogs, StartError } from '../../../../tools/local-stack/start-error.ts';
import { type StartWatch, startLimits, waitForStart } from '../../../../tools/local-stack/start-wait.ts';
import { cleanUp, gone, tempFolder } from './processes.ts';

afterEach(cleanUp);

const LIMITS = { stallMs: 60_000, ceilingMs: 60_000, reportEveryMs: 60_000 };

/** `script` run by sh as a detached service with its output in a log; the watch over it. */
function service(script: string, overrides: Partial<StartWatch> = {}) {
  const dir = tempFolder();
  const logFile = `${dir}/stdout.log`;
  const logs = markLogs([`${dir}/error.log`, logFile]);
  const proc = spawnDetached('sh', ['-c', script], logFile, `${dir}/svc.pid`);
  const lines: string[] = [];
  const watch: StartWatch = {
    what: 'the test service',
    doing: 'starting',
    pid: proc.pid,
    exitStatus: proc.exitStatus,
    probe: async () => readFileSync(logFile, 'utf8').includes('ready') || 'no "ready" in its log yet',
    logs,
    limits: LIMITS,
    log: (m) => lines.push(m),
    advice: ['read its log'],
    ...overrides,
  };
  return { watch, lines, pid: proc.pid, dir };
}

describe('waitForStart', () => {
  it('fails at once when the process dies, with its exit code, its log lines and the advice', async () => {
    const { watch } = service('echo "cannot open the data folder"; exit 3');
    const began = Date.now();
    const err = await waitForStart(watch).catch((e: Error) => e);
    expect(Date.now() - began).toBeLessThan(3000);
    expect(err).toBeInstanceOf(StartError);
    const message = (err as Error).message;
    expect(message).toContain('the test service exited during start-up (exit code 3)');
    expect(message).toMatch(
      /last lines of .*stdout\.log \(nothing new in error\.log\) ---\ncannot open the data folder\n/,
    );
    expect(message).toContain('What to do:\n  - read its log');
  });

  it('waits while the process works, saying what it waits for every few seconds', async () => {
    const { watch, lines } = service(
      'for i in 1 2 3 4 5 6 7 8; do echo "step $i"; sleep 0.2; done; echo ready; sleep 30',
      {
        limits: { ...LIMITS, stallMs: 1000, reportEveryMs: 300 },
      },
    );
    await waitForStart(watch);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines[0]).toMatch(
      /^waiting for the test service \(starting; pid \d+\): \d+ s so far, no "ready" in its log yet; CPU \d+\.\d s, log \+\d+ bytes;/,
    );
    expect(lines[0]).toContain('(gives up after 1 s without progress, or 60 s in all)');
    expect(lines.some((l) => /last log line: step \d/.test(l))).toBe(true);
  });

  it('gives up on a process that shows no progress (no output, no CPU, no files) and leaves it to the caller', async () => {
    const { watch, pid } = service('sleep 30', { limits: { ...LIMITS, stallMs: 1500 } });
    const began = Date.now();
    const err = await waitForStart(watch).catch((e: Error) => e);
    expect(Date.now() - began).toBeGreaterThanOrEqual(1500);
    expect(Date.now() - began).toBeLessThan(5000);
    expect((err as Error).message).toContain('the test service showed no sign of progress for 2 s');
    expect((err as Error).message).toContain('(nothing was written to');
    expect(await gone(pid, 100)).toBe(false);
  });

  it('counts new files in the data folder as progress', async () => {
    const dir = tempFolder();
    const { watch } = service(`sleep 2.5; echo ready; sleep 30`, {
      limits: { ...LIMITS, stallMs: 1500 },
      dataDir: dir,
    });
    const touching = setInterval(() => writeFileSync(`${dir}/${Date.now()}`, ''), 300);
    try {
      await waitForStart(watch);
    } finally {
      clearInterval(touching);
    }
  });

  it('gives up at the ceiling even when the process keeps working', async () => {
    const { watch } = service('while true; do echo busy; sleep 0.1; done', {
      limits: { ...LIMITS, stallMs: 1000, ceilingMs: 1500 },
    });
    const err = await waitForStart(watch).catch((e: Error) => e);
    expect((err as Error).message).toMatch(
      /the test service still does not answer \(no "ready" in its log yet\) after 2 s, though its process runs/,
    );
    expect((err as Error).message).toContain('last lines of');
    expect((err as Error).message).toContain('busy');
  });

  it('stops waiting when interrupted', async () => {
    const abort = new AbortController();
    const { watch } = service('sleep 30', { signal: abort.signal });
    setTimeout(() => abort.abort(), 300);
    const err = await waitForStart(watch).catch((e: Error) => e);
    expect((err as Error).message).toContain('the start of the test service was interrupted');
  });
});

describe('startLimits', () => {
  it('is generous on a first start and can be changed by the environment', () => {
    expect(startLimits(true, {})).toMatchObject({ ceilingMs: 600_000, stallMs: 120_000 });
    expect(startLimits(false, {})).toMatchObject({ ceilingMs: 180_000, stallMs: 120_000 });
    expect(
      startLimits(true, {
        TOKENWATCH_STACK_START_TIMEOUT_SECONDS: '900',
        TOKENWATCH_STACK_STALL_SECONDS: '30',
      }),
    ).toMatchObject({ ceilingMs: 900_000, stallMs: 30_000 });
    expect(() => startLimits(true, { TOKENWATCH_STACK_STALL_SECONDS: 'soon' })).toThrow(
      'TOKENWATCH_STACK_STALL_SECONDS="soon" must be a positive number of seconds (default 120)',
    );
  });
});
