// Sends mapped events to tokenwatch's POST /v1/events without ever blocking Keycloak's request
// threads: offer() puts the event in a bounded in-memory queue and returns at once (when the queue
// is full the oldest event is dropped and counted); one daemon thread takes batches (up to
// batch-size events, or what came within linger-ms) and posts them as NDJSON with the API key.
// 5xx, 429 and network errors are retried with capped exponential backoff and jitter, honouring
// Retry-After; other refusals (401, 413, …) drop the batch. Drops and refusals are logged at most
// once per 10 s each, with their counts.
package dev.tokenwatch.keycloak;

import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

final class EventSender {
  private static final Logger LOG = Logger.getLogger("dev.tokenwatch.keycloak");
  private static final long LOG_EVERY_MS = 10_000;
  private static final long FIRST_BACKOFF_MS = 100;
  private static final long MAX_RETRY_AFTER_MS = 300_000;
  private static final Pattern REJECTED = Pattern.compile("\"rejected\"\\s*:\\s*(\\d+)");

  private final SenderSettings settings;
  private final ArrayBlockingQueue<String> queue;
  private final HttpClient http;
  private final Thread thread;
  private volatile boolean stopping;
  private volatile long flushDeadline = Long.MAX_VALUE;

  final AtomicLong offered = new AtomicLong();
  final AtomicLong sent = new AtomicLong();
  final AtomicLong dropped = new AtomicLong();
  final AtomicLong refused = new AtomicLong();
  final AtomicLong rejected = new AtomicLong();
  final AtomicLong retries = new AtomicLong();

  private final RateLimitedLog dropLog = new RateLimitedLog(LOG, Level.WARNING, LOG_EVERY_MS, System::currentTimeMillis);
  private final RateLimitedLog refuseLog = new RateLimitedLog(LOG, Level.WARNING, LOG_EVERY_MS, System::currentTimeMillis);
  private final RateLimitedLog retryLog = new RateLimitedLog(LOG, Level.WARNING, LOG_EVERY_MS, System::currentTimeMillis);

  EventSender(SenderSettings settings) {
    this.settings = settings;
    this.queue = new ArrayBlockingQueue<>(settings.queueCapacity());
    this.http = HttpClient.newBuilder()
        .connectTimeout(Duration.ofMillis(Math.min(settings.requestTimeoutMs(), 5_000)))
        .version(HttpClient.Version.HTTP_1_1)
        .build();
    this.thread = new Thread(this::run, "tokenwatch-event-sender");
    this.thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  /** Queues one event; never blocks. When the queue is full the oldest event is dropped (and counted). */
  void offer(String json) {
    offered.incrementAndGet();
    while (!queue.offer(json)) {
      if (queue.poll() != null) {
        long n = dropped.incrementAndGet();
        dropLog.log("tokenwatch listener: its queue of " + settings.queueCapacity() + " events is full (tokenwatch at "
            + settings.eventsUrl() + " is slow or unreachable): the oldest events are dropped, " + n
            + " so far; raise " + SenderSettings.OPTION_PREFIX + "queue-capacity or fix tokenwatch");
      }
    }
  }

  int queued() {
    return queue.size();
  }

  /** Stops taking batches once the queue is empty or {@code flushMs} have passed; waits for the thread. */
  void close(long flushMs) {
    flushDeadline = System.currentTimeMillis() + flushMs;
    stopping = true;
    thread.interrupt();
    try {
      thread.join(flushMs + settings.requestTimeoutMs() + 1_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    long left = queue.size();
    if (left > 0) {
      dropped.addAndGet(left);
      LOG.warning("tokenwatch listener: " + left + " events were not sent before Keycloak stopped (waited " + flushMs
          + " ms; " + SenderSettings.OPTION_PREFIX + "shutdown-flush-ms)");
    }
  }

  private boolean pastFlush() {
    return stopping && System.currentTimeMillis() >= flushDeadline;
  }

  private void run() {
    List<String> batch = new ArrayList<>(settings.batchSize());
    while (!(stopping && queue.isEmpty()) && !pastFlush()) {
      try {
        String first = stopping ? queue.poll() : queue.poll(1, TimeUnit.SECONDS);
        if (first == null) continue;
        batch.add(first);
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(settings.lingerMs());
        while (batch.size() < settings.batchSize()) {
          queue.drainTo(batch, settings.batchSize() - batch.size());
          long left = until - System.nanoTime();
          if (batch.size() >= settings.batchSize() || left <= 0 || stopping) break;
          String next = queue.poll(left, TimeUnit.NANOSECONDS);
          if (next != null) batch.add(next);
        }
      } catch (InterruptedException e) {
        // close() wakes the thread: what was taken is still sent below, then the queue is flushed
      }
      if (!batch.isEmpty()) deliver(batch);
      batch.clear();
    }
  }

  /** Posts one batch until it is taken or refused, or the shutdown's flush time is over. */
  private void deliver(List<String> batch) {
    byte[] body = String.join("\n", batch).getBytes(StandardCharsets.UTF_8);
    long backoff = FIRST_BACKOFF_MS;
    for (int attempt = 1; ; attempt++) {
      long waitMs;
      String why;
      try {
        HttpRequest request = HttpRequest.newBuilder(settings.eventsUrl())
            .timeout(Duration.ofMillis(settings.requestTimeoutMs()))
            .header("content-type", "application/x-ndjson")
            .header("authorization", "Bearer " + settings.apiKey())
            .POST(HttpRequest.BodyPublishers.ofByteArray(body))
            .build();
        HttpResponse<String> res = http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        int status = res.statusCode();
        if (status >= 200 && status < 300) {
          sent.addAndGet(batch.size());
          noteRejected(res.body(), batch.size());
          return;
        }
        String text = shorten(res.body());
        if (status != 429 && status < 500) {
          refused.addAndGet(batch.size());
          refuseLog.log("tokenwatch listener: tokenwatch at " + settings.eventsUrl() + " refused a batch of "
              + batch.size() + " events with " + status + " (" + text + "); they are dropped"
              + (status == 401 || status == 403 ? ": check " + SenderSettings.OPTION_PREFIX
                  + "api-key against TOKENWATCH_API_KEYS" : ""));
          return;
        }
        why = "answered " + status + " (" + text + ")";
        long retryAfter = retryAfterMs(res.headers().firstValue("retry-after").orElse(null));
        waitMs = retryAfter >= 0 ? retryAfter : jitter(backoff);
      } catch (IOException e) {
        why = "could not be reached (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")";
        waitMs = jitter(backoff);
      } catch (InterruptedException e) {
        // close() during a request: try again at once while the flush time lasts
        why = "interrupted by Keycloak's shutdown";
        waitMs = 0;
      }
      backoff = Math.min(backoff * 2, settings.maxBackoffMs());
      if (pastFlush() || stopping && System.currentTimeMillis() + waitMs >= flushDeadline) {
        dropped.addAndGet(batch.size());
        LOG.warning("tokenwatch listener: a batch of " + batch.size() + " events was not delivered before Keycloak "
            + "stopped: tokenwatch " + why);
        return;
      }
      retries.incrementAndGet();
      retryLog.log("tokenwatch listener: tokenwatch at " + settings.eventsUrl() + " " + why + "; retrying a batch of "
          + batch.size() + " events in " + waitMs + " ms (attempt " + attempt + ", " + queue.size() + " queued)");
      sleep(waitMs);
    }
  }

  private void noteRejected(String body, int size) {
    Matcher m = REJECTED.matcher(body == null ? "" : body);
    if (!m.find()) return;
    long n = Long.parseLong(m.group(1));
    if (n == 0) return;
    rejected.addAndGet(n);
    refuseLog.log("tokenwatch listener: tokenwatch rejected " + n + " of " + size + " events (they are in its "
        + "dead_letters table): " + shorten(body));
  }

  private void sleep(long ms) {
    long until = System.currentTimeMillis() + ms;
    for (long left = ms; left > 0 && !pastFlush(); left = until - System.currentTimeMillis()) {
      try {
        Thread.sleep(Math.min(left, 100));
      } catch (InterruptedException e) {
        // close(): keep to the flush deadline
      }
    }
  }

  /** Retry-After in ms (seconds or an HTTP date are both allowed by RFC 9110; seconds are what tokenwatch sends); -1 when absent. */
  static long retryAfterMs(String header) {
    if (header == null) return -1;
    try {
      long seconds = Long.parseLong(header.trim());
      return seconds < 0 ? -1 : Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
    } catch (NumberFormatException e) {
      try {
        long at = java.time.ZonedDateTime.parse(header.trim(), java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME)
            .toInstant().toEpochMilli();
        return Math.max(0, Math.min(at - System.currentTimeMillis(), MAX_RETRY_AFTER_MS));
      } catch (RuntimeException notADate) {
        return -1;
      }
    }
  }

  /** Between half and all of {@code ms}. */
  private static long jitter(long ms) {
    return ms / 2 + ThreadLocalRandom.current().nextLong(ms / 2 + 1);
  }

  private static String shorten(String s) {
    if (s == null) return "";
    String one = s.replaceAll("\\s+", " ").trim();
    return one.length() > 300 ? one.substring(0, 297) + "…" : one;
  }
}
