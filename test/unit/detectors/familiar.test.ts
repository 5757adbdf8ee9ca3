import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  dayOf,
  familiarEntries,
  isFamiliar,
  learn,
  MAX_ENTRIES,
  networkKey,
  placeKey,
  pruneFamiliar,
} from '../../../detectors/familiar.ts';

const S = { familiarDays: 14, familiarMinDays: 2 };
const D = dayOf(Date.UTC(2026, 10, 22));

/** The plain model: for every key, the set of days it was seen. */
function model(sightings: [number, number][], day: number, s = S) {
  const days = new Map<number, Set<number>>();
  const newest = Math.max(...sightings.map(([, d]) => d));
  for (const [k, d] of sightings) {
    if (newest - d >= s.familiarDays) continue;
    days.set(k, (days.get(k) ?? new Set()).add(d));
  }
  // the day judged counts as seen: a sighting on it is what is being judged
  return (key: number) =>
    new Set([...(days.get(key) ?? [])].filter((d) => d <= day && day - d < s.familiarDays)).add(day).size >=
    s.familiarMinDays;
}

describe('familiar places and networks', () => {
  it('a key seen on another day of the period is familiar; seen only today, however often, it is not', () => {
    let f = learn(undefined, 7, D, S);
    f = learn(f, 7, D, S);
    expect(isFamiliar(f, 7, D, S)).toBe(false);
    expect(isFamiliar(f, 7, D + 1, S)).toBe(true);
    expect(isFamiliar(f, 8, D + 1, S)).toBe(false);
    // 14 days after it, the day has left the period
    expect(isFamiliar(f, 7, D + 14, S)).toBe(false);
    expect(isFamiliar(f, 7, D + 13, S)).toBe(true);
    expect(isFamiliar(undefined, 7, D, S)).toBe(false);
  });

  it('learns days in any order, the same as the model of distinct days (fewer keys than it keeps)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: MAX_ENTRIES }), fc.integer({ min: 0, max: 40 })), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.integer({ min: 0, max: 45 }),
        (sightings, probe) => {
          let f: Float64Array | undefined;
          for (const [k, d] of sightings) f = learn(f, k, D + d, S);
          const newest = Math.max(...sightings.map(([, d]) => d));
          // days older than the period (at the time they arrive) are not learned: the model drops
          // those older than the newest day's period, which is what arrives in order; compare in
          // order of days to keep the two equal
          let g: Float64Array | undefined;
          for (const [k, d] of [...sightings].sort((a, b) => a[1] - b[1])) g = learn(g, k, D + d, S);
          const expected = model(
            sightings.map(([k, d]) => [k, D + d]),
            D + Math.max(probe, newest),
          );
          for (let k = 1; k <= MAX_ENTRIES; k++) {
            expect(isFamiliar(g, k, D + Math.max(probe, newest), S)).toBe(expected(k));
            // arrival order does not matter for days within the period of the newest
            expect(isFamiliar(f, k, D + newest, S)).toBe(isFamiliar(g, k, D + newest, S));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps at most MAX_ENTRIES keys, giving up the ones seen on the fewest days first', () => {
    let f: Float64Array | undefined;
    f = learn(f, 1, D, S);
    f = learn(f, 1, D + 1, S);
    for (let k = 2; k <= 100; k++) f = learn(f, k, D + 1, S);
    expect(familiarEntries(f)).toHaveLength(MAX_ENTRIES);
    expect(f!.length).toBe(1 + 2 * MAX_ENTRIES);
    expect(isFamiliar(f, 1, D + 1, S)).toBe(true);
  });

  it('is forgotten once nothing was seen within the period; 0 days learns nothing', () => {
    const f = learn(learn(undefined, 5, D, S), 5, D + 1, S);
    expect(pruneFamiliar(f, D + 14, S)).toBe(f);
    expect(pruneFamiliar(f, D + 15, S)).toBeUndefined();
    expect(learn(undefined, 5, D, { familiarDays: 0, familiarMinDays: 1 })).toBeUndefined();
    expect(learn(undefined, 0, D, S)).toBeUndefined(); // an unknown network
  });

  it('place keys are ½° cells, negative; network keys are egress networks’ ASNs, 0 otherwise', () => {
    expect(placeKey(52.5174, 13.3985)).toBe(placeKey(52.6, 13.1));
    expect(placeKey(52.5174, 13.3985)).not.toBe(placeKey(52.4, 13.3985));
    fc.assert(
      fc.property(
        fc.double({ min: -90, max: 90, noNaN: true }),
        fc.double({ min: -180, max: 180, noNaN: true }),
        (lat, lon) => {
          const k = placeKey(lat, lon);
          expect(Number.isSafeInteger(k) && k < 0).toBe(true);
        },
      ),
    );
    expect(networkKey(20473, 'hosting')).toBe(20473);
    expect(networkKey(20473, 'anonymizer')).toBe(20473);
    // an ordinary line's ASN (a big home ISP) is too coarse to be familiar
    expect(networkKey(3320, '')).toBe(0);
    expect(networkKey(3320, 'mobile')).toBe(0);
    expect(networkKey(0, 'hosting')).toBe(0);
    expect(networkKey(Number.NaN, 'hosting')).toBe(0);
  });
});
