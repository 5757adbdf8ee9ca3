/**
 * Detection and redaction of raw tokens. Events must never carry a raw JWT (JWS or JWE compact
 * serialization); an event that does is rejected and its dead-letter payload is redacted.
 *
 * A candidate is a run of base64url segments joined by dots (two to five of them) whose first
 * segment holds "eyI"/"eyJ"… (base64url of `{"` or `{ `); it counts as a token only when the first segment, from
 * that "ey" on, decodes to a JSON object with a string `alg` (every JWS and JWE header has one).
 * Host names and ids that merely contain "ey" are therefore not mistaken for tokens.
 *
 * Linear by construction (this runs on attacker-written text): one pass over the text finds the
 * base64url runs; each run is looked at once as a possible header; only the last MAX_HEADER_CHARS
 * of a run can start a header; at most MAX_HEADER_DECODES headers are decoded per text, and past
 * that every further candidate counts as a token (fail closed: the worst a decoy flood can do is
 * get its own event refused or over-redacted, never smuggle a token through).
 */

export const REDACTED = '[REDACTED_TOKEN]';

/** The longest JOSE header considered, in base64url characters (x5c chains make headers of a few KiB). */
const MAX_HEADER_CHARS = 8192;
/** Header decodes per text; past it, candidates count as tokens without a decode. */
const MAX_HEADER_DECODES = 64;
/** "ey" and at least 10 more characters in the header segment; at least 10 in the second (the regex of old). */
const MIN_HEADER_CHARS = 12;
const MIN_SECOND_CHARS = 10;
/** A JWE has five segments, a JWS three. */
const MAX_SEGMENTS = 5;

const BASE64URL = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')
  BASE64URL[c.charCodeAt(0)] = 1;
const DOT = 46;
const E = 101;
const Y = 121;

const isB64 = (code: number) => code < 128 && BASE64URL[code] === 1;

/**
 * The third character of a header that starts `{"` or `{ ` (as every JSON object with a key does):
 * "ey" gives `{` and the high half of the next byte (2), this one its low half (2: `"`, 0: space).
 */
const THIRD = new Uint8Array(128);
for (const c of 'ABCDIJKL') THIRD[c.charCodeAt(0)] = 1;

/** Whether a header may start at `p` of a run ending at `end` (cheap checks before a decode). */
function mayStartHeader(text: string, p: number, end: number): boolean {
  if (text.charCodeAt(p) !== E || text.charCodeAt(p + 1) !== Y) return false;
  const third = text.charCodeAt(p + 2);
  // base64 never leaves one character over in the last group
  return third < 128 && THIRD[third] === 1 && (end - p) % 4 !== 1;
}

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

/** The end (exclusive) of the base64url run starting at `i`. */
function runEnd(text: string, i: number): number {
  while (i < text.length && isB64(text.charCodeAt(i))) i++;
  return i;
}

/** The [start, end) ranges of the raw tokens in `text`, in order, not overlapping. */
function findTokens(text: string, stopAtFirst: boolean): [number, number][] {
  const found: [number, number][] = [];
  if (!text.includes('ey')) return found;
  let decodes = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    if (!isB64(text.charCodeAt(i))) {
      i++;
      continue;
    }
    const start = i;
    const end = runEnd(text, i);
    // The chain after this run: up to four more segments, each after exactly one dot.
    let chainEnd = end;
    let segments = 1;
    let secondLength = -1;
    while (segments < MAX_SEGMENTS && chainEnd < n && text.charCodeAt(chainEnd) === DOT) {
      const next = runEnd(text, chainEnd + 1);
      if (segments === 1) secondLength = next - chainEnd - 1;
      chainEnd = next;
      segments++;
    }
    let token = false;
    if (segments >= 2 && secondLength >= MIN_SECOND_CHARS && end - start >= MIN_HEADER_CHARS) {
      for (let p = Math.max(start, end - MAX_HEADER_CHARS); p <= end - MIN_HEADER_CHARS; p++) {
        if (!mayStartHeader(text, p, end)) continue;
        // Past the decode budget every candidate counts as a token (fail closed).
        const isToken = decodes >= MAX_HEADER_DECODES || isJoseHeader(text.slice(p, end));
        decodes++;
        if (isToken) {
          found.push([p, chainEnd]);
          token = true;
          break;
        }
      }
    }
    if (token && stopAtFirst) return found;
    // After a token, scanning resumes past it; otherwise at the next run (the chain's next segment
    // may be a header itself: "id.eyJhbGci…").
    i = token ? chainEnd : end;
  }
  return found;
}

export function containsRawToken(text: string): boolean {
  return findTokens(text, true).length > 0;
}

export function redactRawTokens(text: string): string {
  const tokens = findTokens(text, false);
  if (tokens.length === 0) return text;
  let out = '';
  let at = 0;
  for (const [start, end] of tokens) {
    out += text.slice(at, start) + REDACTED;
    at = end;
  }
  return out + text.slice(at);
}

/** A step of the walk: a value and how to name it (the parent's path and its own key). */
interface Step {
  value: unknown;
  parent: Step | undefined;
  key: string;
  /** the key is an object's (checked for tokens too), not an array index */
  named: boolean;
}

const escapePointer = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

function pointerOf(step: Step, prefix: string): string {
  const keys: string[] = [];
  for (let s: Step | undefined = step; s?.parent !== undefined; s = s.parent) keys.push(escapePointer(s.key));
  return keys.length === 0 ? prefix || '/' : `${prefix}/${keys.reverse().join('/')}`;
}

/**
 * Finds the first field (a JSON pointer, after `prefix`) of a parsed value whose key or string value
 * holds a raw token, in document order. Iterative: any depth is walked without recursion.
 */
export function findRawToken(value: unknown, prefix = ''): string | undefined {
  const stack: Step[] = [{ value, parent: undefined, key: '', named: false }];
  for (let step = stack.pop(); step !== undefined; step = stack.pop()) {
    if (step.named && containsRawToken(step.key)) return pointerOf(step, prefix);
    const v = step.value;
    if (typeof v === 'string') {
      if (containsRawToken(v)) return pointerOf(step, prefix);
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    const children: Step[] = [];
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++)
        children.push({ value: v[i], parent: step, key: String(i), named: false });
    } else {
      for (const key of Object.keys(v))
        children.push({ value: (v as Record<string, unknown>)[key], parent: step, key, named: true });
    }
    // Reversed onto the stack: the first child is walked first.
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
  return undefined;
}
