// Keycloak's entry point for the tokenwatch event listener (provider id "tokenwatch"): reads the
// settings once at start-up, runs the one sender (and its thread) for the whole server, and creates
// a cheap listener per Keycloak session. Enable it per realm by adding "tokenwatch" to the realm's
// event listeners. Misconfiguration never stops Keycloak: it is logged with what to do, and no
// events are sent.
package dev.tokenwatch.keycloak;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.keycloak.Config;
import org.keycloak.events.Event;
import org.keycloak.events.EventListenerProvider;
import org.keycloak.events.EventListenerProviderFactory;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.KeycloakSessionFactory;
import org.keycloak.provider.ProviderConfigProperty;
import org.keycloak.provider.ProviderConfigurationBuilder;

public final class TokenwatchEventListenerProviderFactory implements EventListenerProviderFactory {
  public static final String ID = "tokenwatch";
  private static final Logger LOG = Logger.getLogger("dev.tokenwatch.keycloak");

  private volatile SenderSettings settings;
  private volatile EventSender sender;
  private final AtomicLong unattributable = new AtomicLong();
  private final AtomicLong failures = new AtomicLong();
  private final RateLimitedLog skipLog = new RateLimitedLog(LOG, Level.INFO, 60_000, System::currentTimeMillis);
  private final RateLimitedLog failLog = new RateLimitedLog(LOG, Level.SEVERE, 10_000, System::currentTimeMillis);

  @Override
  public String getId() {
    return ID;
  }

  @Override
  public void init(Config.Scope config) {
    settings = SenderSettings.read(name -> option(config, name), System::getenv);
    if (!settings.problems().isEmpty())
      LOG.severe("tokenwatch listener: " + String.join("; ", settings.problems())
          + (settings.usable() ? " (the defaults are used for those)" : "; no events will be sent"));
  }

  /** An option by its dashed name; Keycloak's scope is asked for the camel-case and the dashed spelling. */
  private static String option(Config.Scope config, String dashed) {
    if (config == null) return null;
    String v = config.get(camel(dashed));
    return v != null ? v : config.get(dashed);
  }

  static String camel(String dashed) {
    StringBuilder sb = new StringBuilder();
    boolean up = false;
    for (char c : dashed.toCharArray()) {
      if (c == '-') up = true;
      else {
        sb.append(up ? Character.toUpperCase(c) : c);
        up = false;
      }
    }
    return sb.toString();
  }

  @Override
  public void postInit(KeycloakSessionFactory factory) {
    if (settings == null || !settings.usable()) return;
    EventSender s = new EventSender(settings);
    s.start();
    sender = s;
    LOG.info("tokenwatch listener: sending events of tenant " + settings.tenant() + " to " + settings.eventsUrl()
        + " (queue " + settings.queueCapacity() + ", batches of " + settings.batchSize() + " or "
        + settings.lingerMs() + " ms)");
  }

  @Override
  public EventListenerProvider create(KeycloakSession session) {
    return new TokenwatchEventListenerProvider(session, this);
  }

  @Override
  public void close() {
    EventSender s = sender;
    sender = null;
    if (s == null) return;
    s.close(settings.shutdownFlushMs());
    LOG.info("tokenwatch listener: stopped; " + s.sent.get() + " events sent, " + s.dropped.get() + " dropped, "
        + s.refused.get() + " refused, " + s.rejected.get() + " rejected by tokenwatch, " + unattributable.get()
        + " refresh errors without a token id not sent");
  }

  @Override
  public List<ProviderConfigProperty> getConfigMetadata() {
    ProviderConfigurationBuilder b = ProviderConfigurationBuilder.create();
    for (Map.Entry<String, String> o : new java.util.TreeMap<>(SenderSettings.OPTIONS).entrySet())
      b.property().name(o.getKey()).type(ProviderConfigProperty.STRING_TYPE).helpText(o.getValue()).add();
    return new ArrayList<>(b.build());
  }

  EventSender sender() {
    return sender;
  }

  String tenant() {
    return settings.tenant();
  }

  void skipped(EventMapper.Skip why, Event event) {
    if (why != EventMapper.Skip.UNATTRIBUTABLE) return;
    long n = unattributable.incrementAndGet();
    skipLog.log("tokenwatch listener: a " + event.getType() + " (" + event.getError() + ": "
        + (event.getDetails() == null ? null : event.getDetails().get("reason")) + ") names no refresh token id or "
        + "session, which tokenwatch's refresh events need; not sent (" + n + " so far)");
  }

  void failed(Event event, Throwable e) {
    long n = failures.incrementAndGet();
    failLog.log("tokenwatch listener: could not queue a " + (event == null ? null : event.getType()) + " event: " + e
        + " (" + n + " so far); Keycloak's request was not affected");
  }
}
