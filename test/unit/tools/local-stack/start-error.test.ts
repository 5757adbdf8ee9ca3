/** A failed start shows what this start wrote to the first log that has anything: stdout.log when error.log is empty. */
import { appendFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { linesSince, logExcerpt, markLogs, StartError } from '../../../../tools/local-stack/start-error.ts';
import { cleanUp, tempFolder } from './processes.ts';

afterEach(cleanUp);

describe('start errors', () => {
  it('show only the lines written since the start, from the first log that has some', () => {
    const dir = tempFolder();
    writeFileSync(`${dir}/error.log`, 'an error of an earlier run\n');
    writeFileSync(`${dir}/stdout.log`, 'earlier output\n');
    const marks = markLogs([`${dir}/error.log`, `${dir}/stdout.log`]);
    appendFileSync(`${dir}/stdout.log`, 'Logging errors to error.log\n\ncannot bind\n');
    expect(logExcerpt(marks)).toEqual({
      file: `${dir}/stdout.log`,
      lines: ['Logging errors to error.log', 'cannot bind'],
      empty: ['error.log'],
    });
    appendFileSync(`${dir}/error.log`, '<Error> Address already in use\n');
    expect(logExcerpt(marks)?.file).toBe(`${dir}/error.log`);
  });

  it('show all of a log that was truncated since, and say when nothing was written', () => {
    const dir = tempFolder();
    writeFileSync(`${dir}/a.log`, 'x'.repeat(1000));
    const marks = markLogs([`${dir}/a.log`, `${dir}/missing.log`]);
    expect(logExcerpt(marks)).toBeUndefined();
    expect(new StartError('it failed', marks, ['do this']).message).toBe(
      `it failed\n(nothing was written to ${dir}/a.log, ${dir}/missing.log during this start)\nWhat to do:\n  - do this`,
    );
    writeFileSync(`${dir}/a.log`, 'new start\n');
    expect(linesSince(marks[0]!)).toEqual(['new start']);
  });

  it('keep their excerpt when more advice is added', () => {
    const dir = tempFolder();
    const marks = markLogs([`${dir}/out.log`]);
    writeFileSync(`${dir}/out.log`, 'boom\n');
    const err = new StartError('it failed', marks, ['first']);
    writeFileSync(`${dir}/out.log`, 'later\n');
    const more = err.withAdvice(['second']);
    expect(more.message).toContain('boom');
    expect(more.message).toMatch(/What to do:\n {2}- first\n {2}- second$/);
  });
});
