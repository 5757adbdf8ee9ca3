/** The poller's cursor: by time, with an overlap re-read and repeats dropped by id. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  advance,
  EMPTY_CURSOR,
  parseCursor,
  pollFromMs,
} from '../../../../../ingest/sources/keycloak/poll-cursor.ts';

const e = (id: string, timeMs: number) => ({ id, timeMs });

describe('poll cursor', () => {
  it('reads from the start without a cursor, then from the overlap before the newest time', () => {
    expect(pollFromMs(EMPTY_CURSOR, 1000, 5000)).toBe(5000);
    const { cursor } = advance(EMPTY_CURSOR, [e('a', 10_000), e('b', 9_500)], 1000);
    expect(cursor).toEqual({ version: 1, timeMs: 10_000, recent: { a: 10_000, b: 9_500 } });
    expect(pollFromMs(cursor, 1000, 0)).toBe(9_000);
  });

  it('drops what it reported, keeps a late event inside the overlap, sorts by time', () => {
    const first = advance(EMPTY_CURSOR, [e('b', 200), e('a', 100)], 50);
    expect(first.fresh.map((x) => x.id)).toEqual(['a', 'b']);
    // the next poll reads b again, and c that committed late with an older time
    const second = advance(first.cursor, [e('c', 180), e('b', 200), e('d', 260)], 50);
    expect(second.fresh.map((x) => x.id)).toEqual(['c', 'd']);
    expect(second.cursor).toEqual({ version: 1, timeMs: 260, recent: { d: 260 } });
    expect(advance(second.cursor, [e('d', 260)], 50).fresh).toEqual([]);
  });

  it('a page read twice (a repeat within one poll) is one event', () => {
    expect(advance(EMPTY_CURSOR, [e('a', 1), e('a', 1)], 10).fresh).toHaveLength(1);
  });

  it('polls in any split report every event once (events visible within the overlap)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 10 }),
        (times, cuts) => {
          const all = times.map((t, i) => e(`id${i}`, t)).sort((a, b) => a.timeMs - b.timeMs);
          const overlap = 10_001; // everything is within the overlap here
          let cursor = EMPTY_CURSOR;
          const reported: string[] = [];
          let seen = 0;
          for (const cut of [...cuts, all.length]) {
            seen = Math.min(all.length, seen + cut);
            const from = pollFromMs(cursor, overlap, 0);
            const visible = all.slice(0, seen).filter((x) => x.timeMs >= from);
            const r = advance(cursor, visible, overlap);
            reported.push(...r.fresh.map((x) => x.id));
            cursor = parseCursor(JSON.stringify(r.cursor))!;
          }
          expect([...reported].sort()).toEqual(all.map((x) => x.id).sort());
        },
      ),
    );
  });

  it('parses only what it wrote', () => {
    expect(parseCursor('{"version":1,"timeMs":5,"recent":{"a":5}}')).toEqual({
      version: 1,
      timeMs: 5,
      recent: { a: 5 },
    });
    for (const bad of [
      '',
      'x',
      '[]',
      '{"version":2,"timeMs":1,"recent":{}}',
      '{"version":1,"timeMs":"1","recent":{}}',
      '{"version":1,"timeMs":1,"recent":{"a":"x"}}',
    ])
      expect(parseCursor(bad)).toBeUndefined();
  });
});
