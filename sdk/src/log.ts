/** The logging the SDK needs: a pino or fastify logger fits; by default, one JSON line on stderr. */
export interface SdkLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const line =
  (level: string) =>
  (fields: object, message: string): void => {
    process.stderr.write(
      `${JSON.stringify({ level, time: Date.now(), name: 'tokenwatch-sdk', msg: message, ...fields })}\n`,
    );
  };

export const stderrLogger: SdkLogger = { info: line('info'), warn: line('warn'), error: line('error') };

/** Logs once per `intervalMs` at most; what was suppressed meanwhile is counted into the next one. */
export class RateLimitedWarning {
  readonly #intervalMs: number;
  #lastMs = Number.NEGATIVE_INFINITY;
  #suppressed = 0;

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /** Calls `log(suppressedSinceLast)` when the interval has passed; otherwise counts. */
  maybe(log: (suppressed: number) => void, nowMs = Date.now()): void {
    if (nowMs - this.#lastMs < this.#intervalMs) {
      this.#suppressed++;
      return;
    }
    const suppressed = this.#suppressed;
    this.#lastMs = nowMs;
    this.#suppressed = 0;
    log(suppressed);
  }
}
