import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  dayOf,
  type FamiliarHolder,
  familiarEntries,
  isFamiliar,
  learn,
  MAX_ENTRIES,
  MAX_FAMILIAR_DAYS,
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

const holder = (): FamiliarHolder => ({ familiar: undefined, familiarDay: 0 });

describe('familiar places and networks', () => {
  it('a key seen on another day of the period is familiar; seen only today, however often, it is not', () => {
    const h = holder();
    learn(h, 7, D, S);
    learn(h, 7, D, S);
    expect(isFamiliar(h, 7, D, S)).toBe(false);
    expect(isFamiliar(h, 7, D + 1, S)).toBe(true);
    expect(isFamiliar(h, 8, D + 1, S)).toBe(false);
    // 14 days after it, the day has left the period
    expect(isFamiliar(h, 7, D + 14, S)).toBe(false);
    expect(isFamiliar(h, 7, D + 13, S)).toBe(true);
    expect(isFamiliar(holder(), 7, D, S)).toBe(false);
    // one key is kept as a number alone, more as an array
    expect(typeof h.familiar).toBe('number');
    learn(h, 9, D, S);
    expect(Array.isArray(h.familiar)).toBe(true);
  });

  it('learns days in any order, the same as the model of distinct days (fewer keys than it keeps)', () => {
    const keys = fc.oneof(
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 8 }).map((k) => 2 ** 32 + k * 1000),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(keys, fc.integer({ min: 0, max: 40 })), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 0, max: 45 }),
        (sightings, probe) => {
          const f = holder();
          for (const [k, d] of sightings) learn(f, k, D + d, S);
          const newest = Math.max(...sightings.map(([, d]) => d));
          // in order of days, learning is exactly the model (days older than the newest's period
          // are dropped); in any other order, the same for the newest day's period
          const g = holder();
          for (const [k, d] of [...sightings].sort((a, b) => a[1] - b[1])) learn(g, k, D + d, S);
          const at = D + Math.max(probe, newest);
          const expected = model(
            sightings.map(([k, d]) => [k, D + d]),
            at,
          );
          for (const k of new Set(sightings.map(([key]) => key))) {
            expect(isFamiliar(g, k, at, S)).toBe(expected(k));
            expect(isFamiliar(f, k, D + newest, S)).toBe(isFamiliar(g, k, D + newest, S));
          }
          expect(familiarEntries(f).length).toBeLessThanOrEqual(MAX_ENTRIES);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps at most MAX_ENTRIES keys, giving up the ones seen on the fewest days first', () => {
    const h = holder();
    learn(h, 1, D, S);
    learn(h, 1, D + 1, S);
    for (let k = 2; k <= 100; k++) learn(h, k, D + 1, S);
    expect(familiarEntries(h)).toHaveLength(MAX_ENTRIES);
    expect(isFamiliar(h, 1, D + 1, S)).toBe(true);
  });

  it('is forgotten once nothing was seen within the period; 0 days learns nothing; the period is at most 20 days', () => {
    const h = holder();
    learn(h, 5, D, S);
    learn(h, 5, D + 1, S);
    pruneFamiliar(h, D + 14, S);
    expect(h.familiar).toBeDefined();
    pruneFamiliar(h, D + 15, S);
    expect(h.familiar).toBeUndefined();
    const off = holder();
    learn(off, 5, D, { familiarDays: 0, familiarMinDays: 1 });
    expect(off.familiar).toBeUndefined();
    learn(off, 0, D, S); // an unknown network
    expect(off.familiar).toBeUndefined();
    const long = { familiarDays: 31, familiarMinDays: 2 };
    const l = holder();
    learn(l, 5, D, long);
    expect(isFamiliar(l, 5, D + MAX_FAMILIAR_DAYS - 1, long)).toBe(true);
    expect(isFamiliar(l, 5, D + MAX_FAMILIAR_DAYS, long)).toBe(false);
  });

  it('place keys are ½° cells above 2^32; network keys are egress networks’ ASNs, 0 otherwise', () => {
    expect(placeKey(52.5174, 13.3985)).toBe(placeKey(52.6, 13.1));
    expect(placeKey(52.5174, 13.3985)).not.toBe(placeKey(52.4, 13.3985));
    fc.assert(
      fc.property(
        fc.double({ min: -90, max: 90, noNaN: true }),
        fc.double({ min: -180, max: 180, noNaN: true }),
        (lat, lon) => {
          const k = placeKey(lat, lon);
          expect(Number.isSafeInteger(k) && k >= 2 ** 32 && k < 2 ** 33).toBe(true);
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
    expect(networkKey(2 ** 32, 'hosting')).toBe(0);
  });
});
