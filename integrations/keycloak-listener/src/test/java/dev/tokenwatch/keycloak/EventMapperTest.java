// The pure mapping from Keycloak events to tokenwatch's contract v1: one case per event type, and
// Keycloak's refresh error reasons to the contract's closed list.
package dev.tokenwatch.keycloak;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.keycloak.events.Event;
import org.keycloak.events.EventType;

class EventMapperTest {
  private static Event event(EventType type, Map<String, String> details) {
    Event e = new Event();
    e.setId("ev-1");
    e.setTime(1_700_000_000_123L);
    e.setType(type);
    e.setRealmId("realm-uuid");
    e.setRealmName("shop");
    e.setClientId("web");
    e.setUserId("user-1");
    e.setSessionId("sid-1");
    e.setIpAddress("127.0.0.1");
    e.setDetails(new HashMap<>(details));
    return e;
  }

  @Test
  void refreshIsRotated() {
    String json = EventMapper.map(event(EventType.REFRESH_TOKEN,
        Map.of("refresh_token_id", "rt-1", "updated_refresh_token_id", "rt-2", "token_id", "onrtrt:at-2")),
        "acme", false).json();
    assertEquals("{\"event_id\":\"ev-1\",\"type\":\"refresh\",\"time\":1700000000123,\"tenant\":\"acme\","
        + "\"source\":\"keycloak:shop\",\"subject\":\"user-1\",\"client_id\":\"web\",\"session_id\":\"sid-1\","
        + "\"ip\":\"127.0.0.1\",\"keycloak_type\":\"REFRESH_TOKEN\",\"outcome\":\"rotated\",\"reason\":\"ok\","
        + "\"family_id\":\"sid-1:web\",\"token_id\":\"rt-1\",\"new_token_id\":\"rt-2\",\"access_jti\":\"onrtrt:at-2\"}",
        json);
  }

  @Test
  void reuseErrorTakesTheSubjectFromTheToken() {
    Event e = event(EventType.REFRESH_TOKEN_ERROR, Map.of("refresh_token_id", "rt-1", "refresh_token_sub", "user-9",
        "reason", "Maximum allowed refresh token reuse exceeded"));
    e.setUserId(null);
    e.setError("invalid_token");
    String json = EventMapper.map(e, "acme", true).json();
    assertTrue(json.contains("\"subject\":\"user-9\""), json);
    assertTrue(json.contains("\"outcome\":\"rejected\",\"reason\":\"reuse_detected\""), json);
    assertTrue(json.contains("\"keycloak_reason\":\"Maximum allowed refresh token reuse exceeded\""), json);
  }

  @Test
  void refreshErrorWithoutTokenIdIsNotSent() {
    Event e = event(EventType.REFRESH_TOKEN_ERROR, Map.of("reason", "Invalid refresh token"));
    e.setSessionId(null);
    EventMapper.Result r = EventMapper.map(e, "acme", false);
    assertNull(r.json());
    assertEquals(EventMapper.Skip.UNATTRIBUTABLE, r.skipped());
  }

  @Test
  void loginIsIssuanceAndLogoutIsRevocation() {
    String login = EventMapper.map(event(EventType.LOGIN,
        Map.of("grant_type", "password", "refresh_token_id", "rt-1", "token_id", "onrtro:at-1")), "acme", false).json();
    assertTrue(login.contains("\"type\":\"issuance\""), login);
    assertTrue(login.contains("\"family_id\":\"sid-1:web\",\"token_id\":\"rt-1\",\"access_jti\":\"onrtro:at-1\""), login);
    String logout = EventMapper.map(event(EventType.LOGOUT, Map.of()), "acme", false).json();
    assertTrue(logout.contains("\"type\":\"revocation\""), logout);
    assertTrue(logout.contains("\"reason\":\"logout\""), logout);
    assertNull(EventMapper.map(event(EventType.LOGIN_ERROR, Map.of()), "acme", false).json());
  }

  @Test
  void revokedRefreshTokenIsItsFamilyAndRevokedAccessTokenItsJti() {
    String family = EventMapper.map(event(EventType.REVOKE_GRANT,
        Map.of("refresh_token_id", "rt-1", "refresh_token_type", "Refresh")), "acme", false).json();
    assertTrue(family.contains("\"family_id\":\"sid-1:web\",\"token_id\":\"rt-1\""), family);
    Event access = event(EventType.REVOKE_GRANT, Map.of("token_id", "onrtro:at-1"));
    access.setSessionId(null);
    String jti = EventMapper.map(access, "acme", false).json();
    assertTrue(jti.contains("\"jti\":\"onrtro:at-1\""), jti);
    assertTrue(!jti.contains("family_id"), jti);
  }

  @Test
  void refreshReasons() {
    assertEquals("reuse_detected", EventMapper.refreshReason("invalid_token", "Stale token", true));
    assertEquals("revoked", EventMapper.refreshReason("invalid_token", "Stale token", false));
    assertEquals("expired", EventMapper.refreshReason("invalid_token", "Token is not active", false));
    assertEquals("revoked", EventMapper.refreshReason("invalid_token", "Session not active", false));
    assertEquals("revoked", EventMapper.refreshReason("invalid_token", "Offline user session not found", false));
    assertEquals("invalid", EventMapper.refreshReason("invalid_token", "Invalid refresh token", false));
    assertEquals("invalid", EventMapper.refreshReason("invalid_token", "Unmatching clients", false));
    assertEquals("other", EventMapper.refreshReason("client_policy_error", "client_policy_error", false));
  }

  @Test
  void stringsAreEscaped() {
    Event e = event(EventType.LOGOUT, Map.of());
    e.setUserId("a\"b\\c\n\u0001");
    String json = EventMapper.map(e, "acme", false).json();
    assertTrue(json.contains("\"subject\":\"a\\\"b\\\\c\\n\\u0001\""), json);
  }
}
