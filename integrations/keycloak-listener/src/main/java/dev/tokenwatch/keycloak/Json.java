// A minimal JSON object writer for the listener's events: string and number members, strings
// escaped per RFC 8259 (control characters, quotes, backslash, and U+2028/U+2029 as \\u escapes).
// Members whose value is null or empty are left out, so an event carries only what Keycloak gave.
package dev.tokenwatch.keycloak;

final class Json {
  private final StringBuilder out = new StringBuilder(512).append('{');
  private boolean first = true;

  /** Adds "name": "value" unless value is null or empty. */
  Json string(String name, String value) {
    if (value == null || value.isEmpty()) return this;
    key(name);
    quote(out, value);
    return this;
  }

  /** Adds "name": value. */
  Json number(String name, long value) {
    key(name);
    out.append(value);
    return this;
  }

  String build() {
    return out.toString() + '}';
  }

  private void key(String name) {
    if (!first) out.append(',');
    first = false;
    quote(out, name);
    out.append(':');
  }

  static void quote(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20 || c == '\u2028' || c == '\u2029') sb.append(String.format("\\u%04x", (int) c));
          else sb.append(c);
        }
      }
    }
    sb.append('"');
  }
}
