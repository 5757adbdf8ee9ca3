/**
 * The compact layout of detector state (detectors/state.ts) gives back exactly what it was given:
 * event ids and times packed into small integers, token hashes split in two, small tables that turn
 * into a Map past their size and back when pruned.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FamilyState,
  hash52,
  Presentation,
  pruneSubject,
  SubjectState,
  sightingOf,
  tokenOf,
  toSeconds,
  trackedToken,
} from '../../../detectors/state.ts';
import { ev, HOUR, T0 } from './helpers.ts';

const LIFETIMES = {
  tokenS: 900,
  familyS: 86_400,
  sessionS: 86_400,
  windowS: 600,
  familiar: { familiarDays: 14, familiarMinDays: 2 },
};

describe('detector state layout', () => {
  it('a sighting gives back the event id and time it was made from, whatever they are', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uuid(),
          fc.string({ maxLength: 128 }),
          fc.uuid().map((u) => u.toUpperCase()),
        ),
        fc.oneof(
          fc.integer({ min: 0, max: 2 ** 31 * 1000 - 1 }),
          fc.double({ min: -1e15, max: 1e15, noNaN: true }),
          fc.constantFrom(0, -1, 999, 1000, 2 ** 31 * 1000, Number.MAX_SAFE_INTEGER),
        ),
        (event_id, time_ms) => {
          const s = sightingOf(ev({ at: 0, event_id, time_ms }));
          expect(s.event_id).toBe(event_id);
          expect(s.time_ms === time_ms).toBe(true); // -0 comes back as 0: equal, as every use compares it
          expect(s.evidence().event_id).toBe(event_id);
        },
      ),
    );
  });

  it('two sightings are of the same event exactly when their event ids are equal', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uuid(), fc.string()), fc.oneof(fc.uuid(), fc.string()), (a, b) => {
        const x = sightingOf(ev({ at: T0, event_id: a }));
        const y = sightingOf(ev({ at: T0, event_id: b }));
        expect(x.sameEvent(y)).toBe(a === b);
        expect(x.sameEvent(sightingOf(ev({ at: T0 + 1, event_id: a })))).toBe(true);
      }),
    );
  });

  it('a presentation gives back both token hashes, and -1 for none', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.constant(null)),
        fc.oneof(fc.string(), fc.constant(null)),
        (a, b) => {
          const from = a === null ? -1 : hash52(a);
          const to = b === null ? -1 : hash52(b);
          const p = new Presentation(from, to, sightingOf(ev({ at: T0 })));
          expect([p.from, p.to]).toEqual([from, to]);
        },
      ),
    );
  });

  it("a family's newest time is kept exactly", () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 4e12 }), fc.double({ noNaN: true })), (ms) => {
        const f = new FamilyState(hash52('family'), toSeconds(T0));
        f.newestMs = ms;
        expect(f.newestMs === ms).toBe(true); // -0 comes back as 0: equal, as every use compares it
      }),
    );
  });

  it('a subject finds each of its tokens past the small table (a Map then) and after pruning', () => {
    const s = new SubjectState();
    const jtis = Array.from({ length: 40 }, (_, i) => `jti-${i}`);
    jtis.forEach((jti, i) => {
      tokenOf(s, jti, ev({ at: T0 + i * HOUR, jti, exp: 0 }), 900);
    });
    expect(Array.isArray(s.tokens)).toBe(false);
    expect(s.keys).toBe(40);
    for (const jti of jtis) expect(trackedToken(s, jti)).toBeDefined();
    expect(trackedToken(s, 'unknown')).toBeUndefined();
    // the same token again is the same record, its lifetime moved forward
    const first = trackedToken(s, 'jti-0')!;
    expect(tokenOf(s, 'jti-0', ev({ at: T0 + 50 * HOUR, jti: 'jti-0', exp: 0 }), 900)).toBe(first);
    expect(s.keys).toBe(40);

    // at hour 39 only jti-39 (900 s after it was seen) and jti-0 (seen again at hour 50) are live
    pruneSubject(s, toSeconds(T0 + 39 * HOUR), LIFETIMES);
    expect(Array.isArray(s.tokens)).toBe(true);
    expect(s.keys).toBe(2);
    expect(trackedToken(s, 'jti-39')).toBeDefined();
    expect(trackedToken(s, 'jti-0')).toBe(first);
    expect(trackedToken(s, 'jti-38')).toBeUndefined();
    pruneSubject(s, toSeconds(T0 + 60 * HOUR), LIFETIMES);
    expect(s.tokens).toBeUndefined();
  });
});
