// A log line that is written at most once per interval: the lines it held back in between are
// counted and reported with the next one, so a flood of drops or refusals costs one line per interval.
package dev.tokenwatch.keycloak;

import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

final class RateLimitedLog {
  private final Logger logger;
  private final Level level;
  private final long intervalMs;
  private final LongSupplier clock;
  private long lastWritten = Long.MIN_VALUE;
  private long suppressed;

  RateLimitedLog(Logger logger, Level level, long intervalMs, LongSupplier clock) {
    this.logger = logger;
    this.level = level;
    this.intervalMs = intervalMs;
    this.clock = clock;
  }

  /** Writes `message` now if the interval has passed since the last line written; otherwise counts it. */
  synchronized boolean log(String message) {
    long now = clock.getAsLong();
    if (lastWritten != Long.MIN_VALUE && now - lastWritten < intervalMs) {
      suppressed++;
      return false;
    }
    String held = suppressed == 0 ? "" : " (" + suppressed + " similar lines held back since the last one)";
    lastWritten = now;
    suppressed = 0;
    // logp: the logger's name is the source (JUL would otherwise name this class and method)
    logger.logp(level, logger.getName(), null, message + held);
    return true;
  }
}
