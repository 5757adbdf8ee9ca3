import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cut,
  cutUtf8,
  stringifyWellFormed,
  wellFormed,
  wellFormedDeep,
  wellFormedJsonText,
  wellFormedRow,
} from '../../../platform/text.ts';

/** Strings of any UTF-16 units, lone surrogates included. */
const anyText = fc.string({ unit: 'binary', maxLength: 64 });
const LONE = '\ud83d';

/** Whether text holds no lone surrogate once parsed back from JSON. */
const parsedIsWellFormed = (json: string) =>
  JSON.stringify(JSON.parse(json), (_k, v) => {
    if (typeof v === 'string' && !v.isWellFormed()) throw new Error(`lone surrogate in ${JSON.stringify(v)}`);
    return v;
  }) !== undefined;

describe('wellFormed', () => {
  it('replaces lone surrogates by U+FFFD and leaves well-formed text as it is', () => {
    expect(wellFormed(`a${LONE}b`)).toBe('a\ufffdb');
    expect(wellFormed('😀')).toBe('😀');
    fc.assert(
      fc.property(anyText, (s) => {
        const w = wellFormed(s);
        expect(w.isWellFormed()).toBe(true);
        expect(w.length).toBe(s.length);
        if (s.isWellFormed()) expect(w).toBe(s);
      }),
    );
  });
});

describe('cut', () => {
  it('never splits a surrogate pair and stays within the limit', () => {
    expect(cut('ab😀', 3, '…')).toBe('ab…');
    expect(cut('ab😀', 4)).toBe('ab😀');
    expect(cut('😀', 1)).toBe('');
    fc.assert(
      fc.property(anyText, fc.nat(70), (s, max) => {
        const c = cut(s, max);
        expect(c.isWellFormed()).toBe(true);
        expect(c.length).toBeLessThanOrEqual(Math.max(max, 0));
        expect(wellFormed(s).startsWith(c)).toBe(true);
      }),
    );
  });
});

describe('cutUtf8', () => {
  it('fits the byte limit, cuts on a code point, and is well-formed', () => {
    expect(cutUtf8('abcdé', 5)).toBe('abcd');
    expect(cutUtf8(`x${LONE}`, 100)).toBe('x\ufffd');
    fc.assert(
      fc.property(anyText, fc.nat(200), (s, max) => {
        const c = cutUtf8(s, max);
        expect(Buffer.byteLength(c)).toBeLessThanOrEqual(max);
        expect(c.isWellFormed()).toBe(true);
        expect(wellFormed(s).startsWith(c)).toBe(true);
      }),
    );
  });
});

describe('stringifyWellFormed and wellFormedJsonText', () => {
  it('give JSON whose strings and keys parse back well-formed', () => {
    fc.assert(
      fc.property(fc.jsonValue(), anyText, anyText, (value, key, s) => {
        const doc = { [key]: s, nested: [{ [key]: [s, value] }] };
        const json = stringifyWellFormed(doc);
        expect(parsedIsWellFormed(json)).toBe(true);
        expect(Object.keys(JSON.parse(json))).toContain(wellFormed(key));
        expect(parsedIsWellFormed(wellFormedJsonText(JSON.stringify(doc)))).toBe(true);
      }),
    );
  });

  it('costs one stringify when nothing needs fixing', () => {
    const doc = { a: 'plain', b: ['😀', { c: 1 }] };
    expect(stringifyWellFormed(doc)).toBe(JSON.stringify(doc));
    expect(wellFormedJsonText('{"a":"\\u0001"}')).toBe('{"a":"\\u0001"}');
    expect(wellFormedJsonText(`not json ${LONE}`)).toBe('not json \ufffd');
  });
});

describe('wellFormedDeep', () => {
  it('copies any depth without recursion and keeps __proto__ keys as data', () => {
    let deep: unknown = LONE;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    let out = wellFormedDeep(deep);
    for (let i = 0; i < 100_000; i++) out = (out as unknown[])[0];
    expect(out).toBe('\ufffd');
    const proto = wellFormedDeep(JSON.parse('{"__proto__":{"admin":true},"x":"\\ud800"}')) as Record<
      string,
      unknown
    >;
    expect(Object.keys(proto)).toEqual(['__proto__', 'x']);
    expect(({} as { admin?: boolean }).admin).toBeUndefined();
    expect(proto['x']).toBe('\ufffd');
  });
});

describe('wellFormedRow', () => {
  it('fixes string and string-array fields, and returns the row itself when clean', () => {
    const clean = { a: 'x', n: 1, list: ['y'] };
    expect(wellFormedRow(clean)).toBe(clean);
    expect(wellFormedRow({ a: LONE, n: 1, list: ['ok', LONE] })).toEqual({
      a: '\ufffd',
      n: 1,
      list: ['ok', '\ufffd'],
    });
  });
});

describe('log lines', () => {
  it('are written well-formed: a lone surrogate escape in a logged value comes out as U+FFFD', async () => {
    const { pino } = await import('pino');
    const { Writable } = await import('node:stream');
    const { logOptions } = await import('../../../platform/log.ts');
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = pino(logOptions('info'), sink);
    log.warn({ event_id: `e${LONE}"x` }, `msg ${LONE}`);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const parsed = JSON.parse(lines[0]!);
    expect(parsed.event_id).toBe('e\ufffd"x');
    expect(parsed.msg).toBe('msg \ufffd');
  });
});
