// Maps one Keycloak user event to one tokenwatch event (contract v1) as a JSON object, or to null
// when the event is not one tokenwatch takes or lacks what the contract requires. Pure: no I/O,
// nothing read from Keycloak but the event itself and whether its realm revokes refresh tokens.
//
//   LOGIN, CODE_TO_TOKEN   -> issuance   (token_id = refresh token issued, access_jti = access token)
//   REFRESH_TOKEN          -> refresh    rotated / ok (token_id presented, new_token_id issued)
//   REFRESH_TOKEN_ERROR    -> refresh    rejected / reuse_detected | expired | revoked | invalid | other
//   LOGOUT                 -> revocation (the user session: every family in it)
//   REVOKE_GRANT           -> revocation (at /revoke: a refresh token's family, or one access token's jti)
//
// A family is Keycloak's client session: "<user session id>:<client id>".
package dev.tokenwatch.keycloak;

import java.util.Map;
import org.keycloak.events.Event;
import org.keycloak.events.EventType;

final class EventMapper {
  private EventMapper() {}

  /** Why an event was not mapped, for the listener's counts. */
  enum Skip {
    NOT_TAKEN,
    /** a refresh error raised before Keycloak read the token: no token id, session or subject */
    UNATTRIBUTABLE
  }

  /** The mapped event, or why there is none. */
  record Result(String json, Skip skipped) {
    static Result of(String json) {
      return new Result(json, null);
    }

    static Result skip(Skip why) {
      return new Result(null, why);
    }
  }

  static Result map(Event e, String tenant, boolean realmRevokesRefreshTokens) {
    EventType type = e.getType();
    if (type == null) return Result.skip(Skip.NOT_TAKEN);
    Map<String, String> d = e.getDetails() == null ? Map.of() : e.getDetails();
    return switch (type) {
      case LOGIN, CODE_TO_TOKEN -> Result.of(
          common(e, "issuance", tenant, d)
              .string("outcome", "ok")
              .string("reason", type == EventType.LOGIN ? "login" : "code_to_token")
              .string("family_id", family(e))
              .string("token_id", d.get("refresh_token_id"))
              .string("access_jti", d.get("token_id"))
              .string("grant_type", d.get("grant_type"))
              .string("refresh_token_type", d.get("refresh_token_type"))
              .build());
      case REFRESH_TOKEN -> refresh(e, tenant, d, "rotated", "ok");
      case REFRESH_TOKEN_ERROR -> refresh(
          e, tenant, d, "rejected", refreshReason(e.getError(), d.get("reason"), realmRevokesRefreshTokens));
      case LOGOUT -> Result.of(
          common(e, "revocation", tenant, d).string("outcome", "ok").string("reason", "logout").build());
      // RFC 7009 /revoke: a refresh token ends its client session (the family); an access token is
      // revoked alone (Keycloak remembers its id until it expires)
      case REVOKE_GRANT -> Result.of(d.get("refresh_token_id") != null
          ? common(e, "revocation", tenant, d)
              .string("outcome", "ok")
              .string("reason", "revoke_grant")
              .string("family_id", family(e))
              .string("token_id", d.get("refresh_token_id"))
              .string("refresh_token_type", d.get("refresh_token_type"))
              .build()
          : common(e, "revocation", tenant, d)
              .string("outcome", "ok")
              .string("reason", "revoke_grant")
              .string("jti", d.get("token_id"))
              .build());
      default -> Result.skip(Skip.NOT_TAKEN);
    };
  }

  private static Result refresh(Event e, String tenant, Map<String, String> d, String outcome, String reason) {
    String presented = d.get("refresh_token_id");
    String family = family(e);
    // the contract requires both: without them tokenwatch could only dead-letter the event
    if (presented == null || presented.isEmpty() || family == null) return Result.skip(Skip.UNATTRIBUTABLE);
    Json json = common(e, "refresh", tenant, d)
        .string("outcome", outcome)
        .string("reason", reason)
        .string("family_id", family)
        .string("token_id", presented)
        .string("new_token_id", d.get("updated_refresh_token_id"))
        .string("access_jti", d.get("token_id"))
        .string("refresh_token_type", d.get("refresh_token_type"));
    if (e.getError() != null) json.string("keycloak_error", e.getError()).string("keycloak_reason", d.get("reason"));
    return Result.of(json.build());
  }

  /** The fields every mapped event has. */
  private static Json common(Event e, String type, String tenant, Map<String, String> d) {
    String realm = e.getRealmName() != null ? e.getRealmName() : e.getRealmId();
    String subject = e.getUserId() != null ? e.getUserId() : d.get("refresh_token_sub");
    return new Json()
        .string("event_id", e.getId())
        .string("type", type)
        .number("time", e.getTime())
        .string("tenant", tenant)
        .string("source", "keycloak:" + realm)
        .string("subject", subject)
        .string("client_id", e.getClientId())
        .string("session_id", e.getSessionId())
        .string("ip", e.getIpAddress())
        .string("keycloak_type", e.getType().name());
  }

  /** The family (client session) of the event: "<user session id>:<client id>", or null. */
  static String family(Event e) {
    String sid = e.getSessionId();
    String client = e.getClientId();
    if (sid == null || sid.isEmpty() || client == null || client.isEmpty()) return null;
    return sid + ":" + client;
  }

  /**
   * The contract's refresh reason for Keycloak's error and reason detail (OAuthErrorException
   * descriptions of TokenManager and AbstractRefreshTokenProvider in 26.x).
   */
  static String refreshReason(String error, String reason, boolean realmRevokesRefreshTokens) {
    String r = reason == null ? "" : reason;
    if (r.equals("Maximum allowed refresh token reuse exceeded")) return "reuse_detected";
    // "Stale token" is both an older rotated token presented after a newer one was used (only with
    // revokeRefreshToken on; Keycloak then also drops the client session) and a token from before a
    // not-before push; with revokeRefreshToken off only the second can be
    if (r.equals("Stale token")) return realmRevokesRefreshTokens ? "reuse_detected" : "revoked";
    if (r.equals("Token is not active") || r.contains("expired") || "expired_code".equals(error)
        || "session_expired".equals(error)) return "expired";
    if (r.contains("ession not active") || r.contains("session not found") || r.equals("User disabled")
        || r.startsWith("Session doesn't have required client") || r.contains("issued before the")
        || r.contains("consent") || r.contains("offline access not granted")
        || "user_session_not_found".equals(error) || "user_disabled".equals(error)) return "revoked";
    if (r.startsWith("Invalid refresh token") || r.equals("Unmatching clients") || r.contains("signature")
        || r.startsWith("Invalid token") || "invalid_token_type".equals(error)) return "invalid";
    return "other";
  }
}
