/**
 * A request body → the texts of its events, without parsing the body as a whole: NDJSON lines,
 * RFC 7464 json-seq records, or the elements of a JSON array (or one JSON object). Each text is then
 * validated on its own, so a broken element costs only its own dead letter and never the request.
 *
 * Linear in the body, and it yields to the event loop every SLICE_CHARS characters: a 16 MiB body
 * never holds the loop for long. It stops as soon as there are more items than the request may hold.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';

export type BodyFormat = 'ndjson' | 'json-seq' | 'json';

export type SplitResult =
  | { ok: true; items: string[] }
  /** more than `maxItems`: the request is refused whole */
  | { ok: false; tooMany: true }
  /** the body's outer structure is broken (a JSON array that never closes…): the request is refused whole */
  | { ok: false; tooMany: false; error: string };

/** Characters scanned between yields to the event loop. */
const SLICE_CHARS = 1 << 20;
const RS = '\u001e';

/** Splits `body` into item texts (trimmed, empty ones dropped), at most `maxItems` of them. */
export async function splitBody(body: string, format: BodyFormat, maxItems: number): Promise<SplitResult> {
  if (format === 'json') return splitJson(body, maxItems);
  const separator = format === 'json-seq' ? RS : '\n';
  const items: string[] = [];
  let at = 0;
  let nextYield = SLICE_CHARS;
  while (at <= body.length) {
    let end = body.indexOf(separator, at);
    if (end < 0) end = body.length;
    const text = body.slice(at, end).trim();
    if (text !== '') {
      if (items.length === maxItems) return { ok: false, tooMany: true };
      items.push(text);
    }
    at = end + 1;
    if (at >= nextYield) {
      nextYield = at + SLICE_CHARS;
      await yieldToLoop();
    }
  }
  return { ok: true, items };
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/**
 * A JSON body: the elements of a top-level array, or the body itself when it is not an array.
 * The scan follows strings and nesting only (an element's own syntax is checked when it is parsed).
 */
async function splitJson(body: string, maxItems: number): Promise<SplitResult> {
  let i = 0;
  const n = body.length;
  while (i < n && isSpace(body.charCodeAt(i))) i++;
  if (i === n) return { ok: true, items: [] };
  if (body.charCodeAt(i) !== 0x5b /* [ */) return { ok: true, items: [body.trim()] };
  const broken = (why: string): SplitResult => ({
    ok: false,
    tooMany: false,
    error: `the body is not a JSON array of events (${why}); send a JSON array of events, or NDJSON with Content-Type: application/x-ndjson`,
  });
  const items: string[] = [];
  let depth = 0; // nesting inside the current element
  let inString = false;
  let start = i + 1;
  let nextYield = SLICE_CHARS;
  for (i = i + 1; i < n; i++) {
    if (i >= nextYield) {
      nextYield = i + SLICE_CHARS;
      await yieldToLoop();
    }
    const c = body.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || (c === 0x5d && depth > 0)) depth--;
    else if ((c === 0x2c /* , */ || c === 0x5d) && depth === 0) {
      const text = body.slice(start, i).trim();
      if (text === '') {
        // `[]` is an empty request; `[,` or `[1,,2]` or `[1,]` is not JSON
        if (c === 0x5d && items.length === 0) return trailing(body, i + 1, items, broken);
        return broken(`an empty element at character ${i}`);
      }
      if (items.length === maxItems) return { ok: false, tooMany: true };
      items.push(text);
      start = i + 1;
      if (c === 0x5d) return trailing(body, i + 1, items, broken);
    }
    if (depth < 0) return broken(`an unbalanced bracket at character ${i}`);
  }
  return broken(inString ? 'a string that never ends' : 'the array never closes');
}

/** After the closing bracket only whitespace may follow. */
function trailing(
  body: string,
  from: number,
  items: string[],
  broken: (why: string) => SplitResult,
): SplitResult {
  for (let i = from; i < body.length; i++)
    if (!isSpace(body.charCodeAt(i))) return broken(`text after the closing bracket at character ${i}`);
  return { ok: true, items };
}
