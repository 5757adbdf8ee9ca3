// The per-request listener Keycloak creates for each session: maps the user event (EventMapper) and
// hands it to the sender's queue. Nothing here waits or does I/O, and nothing it does can fail
// Keycloak's request: any error is counted and logged (rate-limited), never thrown.
package dev.tokenwatch.keycloak;

import org.keycloak.events.Event;
import org.keycloak.events.EventListenerProvider;
import org.keycloak.events.EventType;
import org.keycloak.events.admin.AdminEvent;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;

final class TokenwatchEventListenerProvider implements EventListenerProvider {
  private final KeycloakSession session;
  private final TokenwatchEventListenerProviderFactory factory;

  TokenwatchEventListenerProvider(KeycloakSession session, TokenwatchEventListenerProviderFactory factory) {
    this.session = session;
    this.factory = factory;
  }

  @Override
  public void onEvent(Event event) {
    try {
      EventSender sender = factory.sender();
      if (sender == null) return;
      boolean revokes = event.getType() == EventType.REFRESH_TOKEN_ERROR && realmRevokesRefreshTokens(event);
      EventMapper.Result result = EventMapper.map(event, factory.tenant(), revokes);
      if (result.json() != null) sender.offer(result.json());
      else factory.skipped(result.skipped(), event);
    } catch (RuntimeException | LinkageError e) {
      factory.failed(event, e);
    }
  }

  /** Whether the event's realm has revokeRefreshToken on (Keycloak's reuse detection); read only for refresh errors. */
  private boolean realmRevokesRefreshTokens(Event event) {
    RealmModel realm = session.getContext().getRealm();
    if (realm == null || !realm.getId().equals(event.getRealmId())) realm = session.realms().getRealm(event.getRealmId());
    return realm != null && realm.isRevokeRefreshToken();
  }

  @Override
  public void onEvent(AdminEvent event, boolean includeRepresentation) {
    // admin events (sessions deleted through the admin API, users logged out by an admin) are
    // tokenwatch's own revocations or an operator's; not reported
  }

  @Override
  public void close() {}
}
