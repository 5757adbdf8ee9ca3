// The sender against a small local HTTP server: batches as NDJSON with the key, retries a 503 after
// its Retry-After, drops a batch refused with 401, and never blocks offer() (drops the oldest).
package dev.tokenwatch.keycloak;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class EventSenderTest {
  private static SenderSettings settings(int port, Map<String, String> extra) {
    Map<String, String> options = new java.util.HashMap<>(Map.of("url", "http://127.0.0.1:" + port,
        "api-key", "key-0123456789abcdef", "tenant", "acme", "linger-ms", "50"));
    options.putAll(extra);
    SenderSettings s = SenderSettings.read(options::get, name -> null);
    assertEquals(List.of(), s.problems());
    return s;
  }

  @Test
  void retriesAfterRetryAfterThenDelivers() throws Exception {
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    List<String> bodies = new CopyOnWriteArrayList<>();
    List<String> auth = new CopyOnWriteArrayList<>();
    AtomicInteger calls = new AtomicInteger();
    server.createContext("/v1/events", x -> {
      String body = new String(x.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
      int n = calls.incrementAndGet();
      byte[] answer = (n == 1 ? "{\"error\":\"busy\"}" : "{\"accepted\":2,\"rejected\":0}").getBytes();
      if (n == 1) x.getResponseHeaders().add("retry-after", "1");
      else {
        bodies.add(body);
        auth.add(x.getRequestHeaders().getFirst("authorization"));
      }
      x.sendResponseHeaders(n == 1 ? 503 : 200, answer.length);
      x.getResponseBody().write(answer);
      x.close();
    });
    server.start();
    EventSender sender = new EventSender(settings(server.getAddress().getPort(), Map.of()));
    sender.start();
    long began = System.currentTimeMillis();
    sender.offer("{\"n\":1}");
    sender.offer("{\"n\":2}");
    while (sender.sent.get() < 2 && System.currentTimeMillis() - began < 10_000) Thread.sleep(20);
    sender.close(1000);
    server.stop(0);
    assertEquals(List.of("{\"n\":1}\n{\"n\":2}"), bodies);
    assertEquals(List.of("Bearer key-0123456789abcdef"), auth);
    assertTrue(System.currentTimeMillis() - began >= 1000, "waited for Retry-After");
    assertEquals(1, sender.retries.get());
  }

  @Test
  void refusedBatchIsDroppedAndFullQueueDropsTheOldest() throws Exception {
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/v1/events", x -> {
      x.getRequestBody().readAllBytes();
      x.sendResponseHeaders(401, -1);
      x.close();
    });
    server.start();
    EventSender sender = new EventSender(settings(server.getAddress().getPort(), Map.of("queue-capacity", "3")));
    long began = System.nanoTime();
    for (int i = 0; i < 10; i++) sender.offer("{\"n\":" + i + "}");
    assertTrue(System.nanoTime() - began < 50_000_000L, "offer never waits");
    assertEquals(7, sender.dropped.get());
    sender.start();
    while (sender.refused.get() < 3 && System.nanoTime() - began < 10_000_000_000L) Thread.sleep(20);
    sender.close(500);
    server.stop(0);
    assertEquals(3, sender.refused.get());
  }

  @Test
  void settingsSayWhatIsWrong() {
    SenderSettings s = SenderSettings.read(Map.of("url", "ftp://x", "api-key", "short", "batch-size", "0")::get,
        name -> null);
    assertEquals(3, s.problems().size(), s.problems().toString());
    assertTrue(s.problems().get(0).contains("--spi-events-listener--tokenwatch--url=ftp://x"), s.problems().get(0));
    SenderSettings fromEnv = SenderSettings.read(name -> null,
        Map.of("TOKENWATCH_URL", "http://127.0.0.1:8080/", "TOKENWATCH_API_KEY", "key-0123456789abcdef")::get);
    assertEquals("http://127.0.0.1:8080/v1/events", fromEnv.eventsUrl().toString());
    assertEquals("default", fromEnv.tenant());
  }
}
