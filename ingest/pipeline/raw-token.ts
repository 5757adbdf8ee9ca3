/**
 * Detection and redaction of raw tokens. Events must never carry a raw JWT (JWS or JWE compact
 * serialization); an event that does is rejected and its dead-letter payload is redacted.
 */

// A compact JWS/JWE: a base64url JSON header ("ey…") and at least one more long base64url segment.
const JWT_PATTERN = /ey[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}(?:\.[A-Za-z0-9_-]*){0,3}/;
const JWT_PATTERN_GLOBAL = new RegExp(JWT_PATTERN.source, 'g');

export const REDACTED = '[REDACTED_TOKEN]';

export function containsRawToken(text: string): boolean {
  return JWT_PATTERN.test(text);
}

export function redactRawTokens(text: string): string {
  return text.replace(JWT_PATTERN_GLOBAL, REDACTED);
}

/** Finds the first field (a JSON pointer) of a parsed value whose key or string value looks like a raw token. */
export function findRawToken(value: unknown, pointer = ''): string | undefined {
  if (typeof value === 'string') return containsRawToken(value) ? pointer || '/' : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findRawToken(value[i], `${pointer}/${i}`);
      if (hit !== undefined) return hit;
    }
    return undefined;
  }
  for (const [key, v] of Object.entries(value)) {
    const here = `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (containsRawToken(key)) return here;
    const hit = findRawToken(v, here);
    if (hit !== undefined) return hit;
  }
  return undefined;
}
