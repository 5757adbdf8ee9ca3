/**
 * The command line: help on stdout with exit 0, the version from package.json, and usage errors
 * that name the unknown command, option or argument (stderr, exit 2). The grammar directly, and the
 * real process for the streams and exit codes.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMANDS, invocation, usage } from '../../../service/cli-usage.ts';
import { REPO_ROOT } from '../../../tools/local-stack/paths.ts';

const tokenwatch = (...args: string[]) =>
  spawnSync(process.execPath, [`${REPO_ROOT}service/cli.ts`, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '' },
    timeout: 20_000,
  });

const VERSION = (JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { version: string }).version;

// Each case starts the real process a few times: seconds each on a loaded two-core machine.
describe('tokenwatch command line', { timeout: 60_000 }, () => {
  it('lists every command with a one-line description', () => {
    const text = usage();
    for (const [name, command] of Object.entries(COMMANDS)) {
      expect(command.summary).not.toContain('\n');
      expect(text).toMatch(new RegExp(`^ {2}${name} +${command.summary.replace(/[()]/g, '\\$&')}$`, 'm'));
    }
    expect(Object.keys(COMMANDS)).toEqual([
      'serve',
      'migrate',
      'schema',
      'backtest',
      'keycloak-poll',
      'help',
    ]);
  });

  it('reads what the arguments ask for', () => {
    expect(invocation([])).toEqual({ kind: 'run', command: 'serve', values: {} });
    for (const help of [['--help'], ['-h'], ['help']])
      expect(invocation(help)).toEqual({ kind: 'help', text: usage() });
    expect(invocation(['help', 'backtest'])).toEqual({ kind: 'help', text: COMMANDS['backtest']!.usage });
    expect(invocation(['migrate', '-h'])).toEqual({ kind: 'help', text: COMMANDS['migrate']!.usage });
    expect(invocation(['-v'])).toEqual({ kind: 'version', text: VERSION });
    expect(invocation(['backtest', '--from', '1', '--to', '2'])).toMatchObject({
      kind: 'run',
      command: 'backtest',
      values: { from: '1', to: '2', warmup: '1h' },
    });
    expect(invocation(['serv'])).toMatchObject({ kind: 'error', message: 'unknown command "serv"' });
    expect(invocation(['--verbose'])).toMatchObject({ kind: 'error', message: 'unknown option --verbose' });
    expect(invocation(['serve', '--port', '80'])).toMatchObject({
      kind: 'error',
      message: 'serve: unknown option --port',
      usage: COMMANDS['serve']!.usage,
    });
    expect(invocation(['schema', 'v2'])).toMatchObject({
      kind: 'error',
      message: 'schema: unexpected argument "v2"',
    });
    expect(invocation(['backtest', '--to'])).toMatchObject({
      kind: 'error',
      message: 'backtest: --to needs a value',
    });
    expect(invocation(['help', 'nope'])).toMatchObject({
      kind: 'error',
      message: 'no command "nope" to show help for',
    });
  });

  it('prints help on stdout and exits 0', () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const run = tokenwatch(...args);
      expect(run.status).toBe(0);
      expect(run.stdout).toBe(`${usage()}\n`);
      expect(run.stderr).toBe('');
    }
    const backtest = tokenwatch('backtest', '--help');
    expect(backtest.status).toBe(0);
    expect(backtest.stdout).toContain('usage: tokenwatch backtest --from <time> --to <time>');
  });

  it('prints the version from package.json', () => {
    for (const flag of ['--version', '-v']) {
      const run = tokenwatch(flag);
      expect(run.status).toBe(0);
      expect(run.stdout).toBe(`${VERSION}\n`);
    }
  });

  it('names an unknown command or option on stderr, with the usage, and exits 2', () => {
    const command = tokenwatch('frobnicate');
    expect(command.status).toBe(2);
    expect(command.stdout).toBe('');
    expect(command.stderr).toBe(`tokenwatch: unknown command "frobnicate"\n\n${usage()}\n`);
    const flag = tokenwatch('backtest', '--form', '2026-11-01T00:00:00Z');
    expect(flag.status).toBe(2);
    expect(flag.stderr).toBe(
      `tokenwatch: backtest: unknown option --form\n\n${COMMANDS['backtest']!.usage}\n`,
    );
  });
});
