import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitBody } from '../../../../../ingest/sources/http/body-items.ts';

const ok = async (body: string, format: 'ndjson' | 'json-seq' | 'json', max = 100) => {
  const r = await splitBody(body, format, max);
  if (!r.ok) throw new Error(`expected items, got ${JSON.stringify(r)}`);
  return r.items;
};

describe('splitBody', () => {
  it('NDJSON: one item per non-empty line, CRLF and blank lines allowed', async () => {
    expect(await ok('{"a":1}\r\n\n  \n{"b":2}', 'ndjson')).toEqual(['{"a":1}', '{"b":2}']);
    expect(await ok('', 'ndjson')).toEqual([]);
  });

  it('json-seq (RFC 7464): records after RS, the RS and trailing newline stripped', async () => {
    expect(await ok('\u001e{"a":1}\n\u001e{"b":\n2}\n', 'json-seq')).toEqual(['{"a":1}', '{"b":\n2}']);
  });

  it('JSON: the elements of an array, strings and nesting followed, or one object', async () => {
    expect(await ok('[{"a":"],[{"},{"b":[1,{"c":"\\"]"}]}]', 'json')).toEqual([
      '{"a":"],[{"}',
      '{"b":[1,{"c":"\\"]"}]}',
    ]);
    expect(await ok(' {"a":1} ', 'json')).toEqual(['{"a":1}']);
    expect(await ok('[]', 'json')).toEqual([]);
    expect(await ok(' [ ] ', 'json')).toEqual([]);
    expect(await ok('"x"', 'json')).toEqual(['"x"']);
  });

  it('JSON: a broken element is an item of its own (its own dead letter), not a broken body', async () => {
    expect(await ok('[{"a":1}, {bad}, 3]', 'json')).toEqual(['{"a":1}', '{bad}', '3']);
  });

  it('JSON: a broken outer structure refuses the body, saying where', async () => {
    for (const body of ['[{"event_id":"x"},', '[1,,2]', '[1,]', '[,]', '[1] x', '["never ends', '[{]}]}']) {
      const r = await splitBody(body, 'json', 100);
      expect(r.ok, body).toBe(false);
      if (!r.ok && !r.tooMany) expect(r.error).toMatch(/not a JSON array of events \(.+\)/);
    }
  });

  it('stops at more items than a request may hold', async () => {
    expect(await splitBody('1\n2\n3', 'ndjson', 2)).toEqual({ ok: false, tooMany: true });
    expect(await splitBody('[1,2,3]', 'json', 2)).toEqual({ ok: false, tooMany: true });
    expect(await ok('[1,2]', 'json', 2)).toEqual(['1', '2']);
  });

  it('splits any array of JSON values into exactly its elements', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.jsonValue(), { maxLength: 20 }), async (values) => {
        const items = await ok(JSON.stringify(values), 'json', 1000);
        expect(items.map((t) => JSON.parse(t))).toEqual(JSON.parse(JSON.stringify(values)));
      }),
      { numRuns: 300 },
    );
  });

  it('handles a 16 MiB body in slices (the event loop is not held)', async () => {
    const line = JSON.stringify({ pad: 'x'.repeat(1000) });
    const body = `[${Array.from({ length: 16_000 }, () => line).join(',')}]`;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const items = await ok(body, 'json', 20_000);
    clearInterval(timer);
    expect(items).toHaveLength(16_000);
    expect(ticks).toBeGreaterThan(0);
  });
});
