/**
 * Detection and redaction of raw tokens. Events must never carry a raw JWT (JWS or JWE compact
 * serialization); an event that does is rejected and its dead-letter payload is redacted.
 *
 * A candidate is a run of base64url segments joined by dots whose first segment starts with "ey"
 * (base64url of `{"`); it counts as a token only when that first segment decodes to a JSON object
 * with a string `alg` (every JWS and JWE header has one). Host names and ids that merely contain
 * "ey" are therefore not mistaken for tokens.
 */

const CANDIDATE = /ey[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}(?:\.[A-Za-z0-9_-]*){0,3}/g;

export const REDACTED = '[REDACTED_TOKEN]';

function isJoseHeader(segment: string): boolean {
  try {
    const header: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return (
      typeof header === 'object' && header !== null && typeof (header as { alg?: unknown }).alg === 'string'
    );
  } catch {
    return false;
  }
}

/** The [start, end) ranges of the raw tokens in `text`. */
function findTokens(text: string): [number, number][] {
  const found: [number, number][] = [];
  if (!text.includes('ey')) return found;
  const re = new RegExp(CANDIDATE.source, 'g');
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (isJoseHeader(m[0].slice(0, m[0].indexOf('.')))) {
      found.push([m.index, m.index + m[0].length]);
    } else {
      re.lastIndex = m.index + 1; // the real header may start inside this candidate ("journeyeyJhbGci…")
    }
  }
  return found;
}

export function containsRawToken(text: string): boolean {
  return findTokens(text).length > 0;
}

export function redactRawTokens(text: string): string {
  const tokens = findTokens(text);
  if (tokens.length === 0) return text;
  let out = '';
  let at = 0;
  for (const [start, end] of tokens) {
    out += text.slice(at, start) + REDACTED;
    at = end;
  }
  return out + text.slice(at);
}

/** Finds the first field (a JSON pointer) of a parsed value whose key or string value holds a raw token. */
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
