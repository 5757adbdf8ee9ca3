/**
 * Text that is safe to write anywhere: well-formed UTF-16 (no lone surrogates, which ClickHouse
 * refuses in JSON and which become U+FFFD in UTF-8 silently), cut on code-point boundaries, bounded
 * in UTF-8 bytes. Every string that comes from outside passes through here before it reaches
 * ClickHouse, Kafka or a log line (the reliability contract: "every string is made well-formed
 * before it is written anywhere").
 */

/** `s` with every lone surrogate replaced by U+FFFD (the same string when it is already well-formed). */
export function wellFormed(s: string): string {
  return s.isWellFormed() ? s : s.toWellFormed();
}

/** Whether UTF-16 unit `i` of `s` is the second half of a surrogate pair (cutting before it would split the pair). */
function isLowSurrogateAfterHigh(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  if (c < 0xdc00 || c > 0xdfff || i === 0) return false;
  const p = s.charCodeAt(i - 1);
  return p >= 0xd800 && p <= 0xdbff;
}

/**
 * At most `maxUnits` UTF-16 units of `s`, never splitting a surrogate pair, well-formed; `suffix`
 * (e.g. "…") is appended when something was cut.
 */
export function cut(s: string, maxUnits: number, suffix = ''): string {
  if (s.length <= maxUnits) return wellFormed(s);
  let end = Math.max(0, maxUnits);
  if (end > 0 && isLowSurrogateAfterHigh(s, end)) end--;
  return wellFormed(s.slice(0, end)) + suffix;
}

/** The longest prefix of `s` whose UTF-8 form fits in `maxBytes`, cut on a code-point boundary, well-formed. */
export function cutUtf8(s: string, maxBytes: number): string {
  // A UTF-16 unit is at most 3 bytes of UTF-8: short strings need no count.
  if (s.length * 3 <= maxBytes) return wellFormed(s);
  const clean = wellFormed(s);
  if (Buffer.byteLength(clean) <= maxBytes) return clean;
  const buf = Buffer.from(clean);
  let end = maxBytes;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}

/** JSON.stringify emits `\uXXXX` escapes only for control characters and lone surrogates. */
const LONE_SURROGATE_ESCAPE = /\\u[dD][89a-fA-F][0-9a-fA-F]{2}/;

/**
 * JSON text of `value` with every string (values and keys) well-formed, so whoever parses it gets
 * no lone surrogate back. One stringify in the common case; a well-formed copy only when needed.
 */
export function stringifyWellFormed(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return LONE_SURROGATE_ESCAPE.test(text) ? (JSON.stringify(wellFormedDeep(value)) ?? 'null') : text;
}

/**
 * JSON text with every string well-formed: `text` itself unless it holds a lone-surrogate escape
 * (then parsed, fixed and written again; text that is not JSON is only made well-formed).
 */
export function wellFormedJsonText(text: string): string {
  if (!LONE_SURROGATE_ESCAPE.test(text)) return wellFormed(text);
  // A log line ends with its newline: kept.
  const newline = text.endsWith('\n') ? '\n' : '';
  try {
    return JSON.stringify(wellFormedDeep(JSON.parse(text))) + newline;
  } catch {
    return wellFormed(text);
  }
}

/**
 * A copy of a JSON-like value with every string and key well-formed. Iterative (no recursion limit
 * on deep input); shares untouched strings.
 */
export function wellFormedDeep(value: unknown): unknown {
  if (typeof value === 'string') return wellFormed(value);
  if (value === null || typeof value !== 'object') return value;
  const holder: Record<string, unknown> = {};
  const work: { from: unknown; into: Record<string, unknown> | unknown[]; key: string | number }[] = [
    { from: value, into: holder, key: 'root' },
  ];
  for (let item = work.pop(); item !== undefined; item = work.pop()) {
    const { from, into, key } = item;
    let copy: unknown;
    if (typeof from === 'string') copy = wellFormed(from);
    else if (from === null || typeof from !== 'object') copy = from;
    else if (Array.isArray(from)) {
      const arr: unknown[] = new Array(from.length);
      for (let i = 0; i < from.length; i++) work.push({ from: from[i], into: arr, key: i });
      copy = arr;
    } else {
      const obj: Record<string, unknown> = {};
      for (const k of Object.keys(from)) {
        const key = wellFormed(k);
        // Defined now, filled when its turn comes: the copy keeps the key order.
        define(obj, key, undefined);
        work.push({ from: (from as Record<string, unknown>)[k], into: obj, key });
      }
      copy = obj;
    }
    define(into, key, copy);
  }
  return holder['root'];
}

/** defineProperty: a key named __proto__ stays data, never the prototype. */
function define(into: object, key: string | number, value: unknown) {
  Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * A flat row (as written to ClickHouse) with every string field and every string in an array field
 * well-formed. Returns the row itself when nothing needed fixing (the common case costs one check per field).
 */
export function wellFormedRow<T extends object>(row: T): T {
  let copy: Record<string, unknown> | undefined;
  const fields = row as Record<string, unknown>;
  // for…in, not Object.entries: this runs on every stored row, and entries() allocates an array of
  // pairs per row (a tenth of the Kafka door's CPU went to it and its garbage, bench:ingest profile)
  for (const k in fields) {
    if (!Object.hasOwn(fields, k)) continue;
    const v = fields[k];
    let fixed: unknown = v;
    if (typeof v === 'string') {
      if (!v.isWellFormed()) fixed = v.toWellFormed();
    } else if (Array.isArray(v) && v.some((x) => typeof x === 'string' && !x.isWellFormed())) {
      fixed = v.map((x) => (typeof x === 'string' ? wellFormed(x) : x));
    }
    if (fixed !== v) {
      copy ??= { ...(row as Record<string, unknown>) };
      copy[k] = fixed;
    }
  }
  return (copy as T | undefined) ?? row;
}
