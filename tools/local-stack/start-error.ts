/**
 * Why a local service did not start, in one error: what failed, the last lines that this start
 * wrote to the first of the service's logs that has any (stdout.log when error.log is empty), and
 * what to do. Logs are marked when a start begins, so lines of earlier runs are never shown as this
 * run's.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { basename } from 'node:path';

/** A log file and its size when the start began. */
export interface LogMark {
  file: string;
  offset: number;
}

const sizeOf = (file: string) => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

/** Marks where each log ends now. */
export function markLogs(files: string[]): LogMark[] {
  return files.map((file) => ({ file, offset: sizeOf(file) }));
}

/** Bytes the marked logs grew by since their marks. */
export function logGrowth(marks: LogMark[]): number {
  return marks.reduce((sum, m) => sum + Math.max(0, sizeOf(m.file) - m.offset), 0);
}

const TAIL_BYTES = 64 * 1024;
const LINE_CHARS = 500;

/** The last `maxLines` non-blank lines written to the log since its mark (at most its last 64 KiB). */
export function linesSince(mark: LogMark, maxLines = 20): string[] {
  const size = sizeOf(mark.file);
  // a log that shrank was rotated or truncated: all of it is new
  const from = size < mark.offset ? 0 : Math.max(mark.offset, size - TAIL_BYTES);
  if (size <= from) return [];
  const buf = Buffer.alloc(size - from);
  const fd = openSync(mark.file, 'r');
  try {
    readSync(fd, buf, 0, buf.length, from);
  } finally {
    closeSync(fd);
  }
  return buf
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-maxLines)
    .map((l) => (l.length > LINE_CHARS ? `${l.slice(0, LINE_CHARS)}…` : l));
}

export interface LogExcerpt {
  file: string;
  lines: string[];
  /** the logs before it that had nothing new */
  empty: string[];
}

/** The new lines of the first marked log that has any; undefined when none has. */
export function logExcerpt(marks: LogMark[], maxLines = 20): LogExcerpt | undefined {
  const empty: string[] = [];
  for (const mark of marks) {
    const lines = linesSince(mark, maxLines);
    if (lines.length > 0) return { file: mark.file, lines, empty };
    empty.push(basename(mark.file));
  }
  return undefined;
}

function render(summary: string, marks: LogMark[], excerpt: LogExcerpt | undefined, advice: string[]) {
  const parts = [summary];
  if (excerpt !== undefined) {
    const note = excerpt.empty.length > 0 ? ` (nothing new in ${excerpt.empty.join(', ')})` : '';
    parts.push(`--- last lines of ${excerpt.file}${note} ---`, ...excerpt.lines, '---');
  } else if (marks.length > 0) {
    parts.push(`(nothing was written to ${marks.map((m) => m.file).join(', ')} during this start)`);
  }
  if (advice.length > 0) parts.push('What to do:', ...advice.map((a) => `  - ${a}`));
  return parts.join('\n');
}

/** A service that did not start: the summary, the log excerpt and the advice, all in `message`. */
export class StartError extends Error {
  readonly summary: string;
  readonly marks: LogMark[];
  readonly excerpt: LogExcerpt | undefined;
  readonly advice: string[];

  constructor(summary: string, marks: LogMark[], advice: string[], excerpt = logExcerpt(marks)) {
    super(render(summary, marks, excerpt, advice));
    this.name = 'StartError';
    this.summary = summary;
    this.marks = marks;
    this.excerpt = excerpt;
    this.advice = advice;
  }

  /** The same error with more advice after its own (what the caller knows: ports, commands). */
  withAdvice(more: string[]): StartError {
    return new StartError(this.summary, this.marks, [...this.advice, ...more], this.excerpt);
  }
}
