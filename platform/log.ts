/**
 * Structured logs (pino, as fastify ships it). Every line is made well-formed before it is
 * written: a log line can quote what a reporter sent (an event id, a server message about a row),
 * and whoever parses the log must get no lone surrogate back.
 */
import { type Logger, type LoggerOptions, pino } from 'pino';
import { wellFormedJsonText } from './text.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const logOptions = (level: LogLevel): LoggerOptions => ({
  level,
  base: { service: 'tokenwatch' },
  hooks: { streamWrite: (line) => wellFormedJsonText(line) },
});

/** JSON lines on stdout, or on stderr (fd 2) for commands whose stdout is their output. */
export function createLogger(level: LogLevel, fd: 1 | 2 = 1): Logger {
  return pino(logOptions(level), pino.destination(fd));
}
