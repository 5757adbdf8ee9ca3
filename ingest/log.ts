/** Structured logs (pino, as fastify ships it). */
import { type Logger, pino } from 'pino';
import type { Config } from './config.ts';

/** JSON lines on stdout, or on stderr (fd 2) for commands whose stdout is their output. */
export function createLogger(level: Config['logLevel'], fd: 1 | 2 = 1): Logger {
  return pino({ level, base: { service: 'tokenwatch' } }, pino.destination(fd));
}
