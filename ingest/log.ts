/** Structured logs (pino, as fastify ships it). */
import { type Logger, pino } from 'pino';
import type { Config } from './config.ts';

export function createLogger(level: Config['logLevel']): Logger {
  return pino({ level, base: { service: 'tokenwatch' } });
}
