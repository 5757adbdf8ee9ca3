// The listener's settings: Keycloak SPI options (--spi-events-listener--tokenwatch--<name>, or
// KC_SPI_EVENTS_LISTENER__TOKENWATCH__<NAME>), with environment variables as fallbacks for the three
// that differ per deployment (TOKENWATCH_URL, TOKENWATCH_API_KEY, TOKENWATCH_TENANT). Every problem
// is collected with what was given and what to do, so one log line at start-up says all of them.
package dev.tokenwatch.keycloak;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

record SenderSettings(
    URI eventsUrl,
    String apiKey,
    String tenant,
    int queueCapacity,
    int batchSize,
    long lingerMs,
    long requestTimeoutMs,
    long maxBackoffMs,
    long shutdownFlushMs,
    List<String> problems) {

  static final String OPTION_PREFIX = "--spi-events-listener--tokenwatch--";

  /** The SPI option names (dashed, as on the command line) and what they mean, for Keycloak's help. */
  static final Map<String, String> OPTIONS = Map.of(
      "url", "tokenwatch's base URL, e.g. http://127.0.0.1:8080 (POST /v1/events is appended); env TOKENWATCH_URL",
      "api-key", "a tokenwatch API key of the tenant (TOKENWATCH_API_KEYS); env TOKENWATCH_API_KEY",
      "tenant", "the tenant the events belong to (default \"default\"); env TOKENWATCH_TENANT",
      "queue-capacity", "events held in memory while tokenwatch is slow or down; the oldest are dropped past it (10000)",
      "batch-size", "events per request at most (500)",
      "linger-ms", "how long a batch waits for company before it is sent (200)",
      "request-timeout-ms", "how long one request may take (10000)",
      "max-backoff-ms", "the longest wait between retries of a batch (30000)",
      "shutdown-flush-ms", "how long Keycloak's shutdown waits for queued events to be sent (5000)");

  /**
   * Reads the settings. {@code option} answers an option by its dashed name (null when unset);
   * {@code env} answers an environment variable.
   */
  static SenderSettings read(Function<String, String> option, Function<String, String> env) {
    List<String> problems = new ArrayList<>();
    String url = firstSet(option.apply("url"), env.apply("TOKENWATCH_URL"));
    String key = firstSet(option.apply("api-key"), env.apply("TOKENWATCH_API_KEY"));
    String tenant = firstSet(option.apply("tenant"), env.apply("TOKENWATCH_TENANT"));
    URI eventsUrl = null;
    if (url == null) {
      problems.add("no tokenwatch URL: set " + OPTION_PREFIX + "url=http://HOST:PORT (or TOKENWATCH_URL)");
    } else {
      try {
        URI base = URI.create(url.trim());
        if (!"http".equals(base.getScheme()) && !"https".equals(base.getScheme()) || base.getHost() == null)
          throw new IllegalArgumentException("not an http(s) URL with a host");
        String s = base.toString().replaceAll("/+$", "");
        eventsUrl = URI.create(s.endsWith("/v1/events") ? s : s + "/v1/events");
      } catch (IllegalArgumentException err) {
        problems.add(OPTION_PREFIX + "url=" + url + " is not usable (" + err.getMessage()
            + "): give tokenwatch's base URL, e.g. http://127.0.0.1:8080");
      }
    }
    if (key == null || key.length() < 16)
      problems.add((key == null ? "no tokenwatch API key" : "the tokenwatch API key has " + key.length()
          + " characters, tokenwatch's keys have at least 16") + ": set " + OPTION_PREFIX
          + "api-key=KEY (or TOKENWATCH_API_KEY) to a key of TOKENWATCH_API_KEYS");
    if (tenant != null && !tenant.matches("[A-Za-z0-9._-]{1,64}"))
      problems.add(OPTION_PREFIX + "tenant=" + tenant + " is not a tenant name (1-64 of A-Z a-z 0-9 . _ -)");
    return new SenderSettings(
        eventsUrl,
        key,
        tenant == null ? "default" : tenant,
        (int) number(option, "queue-capacity", 10_000, 1, 10_000_000, problems),
        (int) number(option, "batch-size", 500, 1, 10_000, problems),
        number(option, "linger-ms", 200, 0, 60_000, problems),
        number(option, "request-timeout-ms", 10_000, 100, 600_000, problems),
        number(option, "max-backoff-ms", 30_000, 10, 3_600_000, problems),
        number(option, "shutdown-flush-ms", 5_000, 0, 600_000, problems),
        List.copyOf(problems));
  }

  private static String firstSet(String a, String b) {
    if (a != null && !a.isBlank()) return a.trim();
    if (b != null && !b.isBlank()) return b.trim();
    return null;
  }

  private static long number(Function<String, String> option, String name, long fallback, long min, long max,
      List<String> problems) {
    String raw = option.apply(name);
    if (raw == null || raw.isBlank()) return fallback;
    try {
      long v = Long.parseLong(raw.trim());
      if (v >= min && v <= max) return v;
    } catch (NumberFormatException ignored) {
      // reported below
    }
    problems.add(OPTION_PREFIX + name + "=" + raw + " must be a whole number from " + min + " to " + max
        + " (default " + fallback + ")");
    return fallback;
  }

  /** Whether events can be sent at all. */
  boolean usable() {
    return eventsUrl != null && apiKey != null && apiKey.length() >= 16;
  }
}
