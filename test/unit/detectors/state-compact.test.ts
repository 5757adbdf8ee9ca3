/**
 * The compact encodings of detector state (detectors/state.ts) give back exactly what they were
 * given: a record's sighting slots (one sighting kept once with a bit per slot, or the slots apart),
 * a presentation's report packed beside its token hash, and a subject's table as one record alone,
 * an array of a few or a Map of many.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REGISTRY } from '../../../detectors/registry.ts';
import {
  FamilyState,
  hash52,
  Presentation,
  pruneSubject,
  SessionState,
  type Sighting,
  SubjectState,
  sightingOf,
  TokenState,
  tokenOf,
  toSeconds,
  trackedToken,
} from '../../../detectors/state.ts';
import { buildThresholds } from '../../../detectors/thresholds.ts';
import { ev, SECOND, T0 } from './helpers.ts';

/** Everything lives 50 s after it was last seen (the other lifetimes as the registry's defaults give them). */
const LIFETIMES = {
  ...REGISTRY.lifetimes(buildThresholds(REGISTRY.defaults)),
  tokenS: 50,
  familyS: 50,
  sessionS: 50,
  windowS: 50,
};

/** A few sightings to assign: the same ones again and again, as records see the same events. */
const POOL: Sighting[] = Array.from({ length: 3 }, (_, i) => sightingOf(ev({ at: T0 + i * SECOND })));

/** A value a sighting slot takes: nothing, one sighting, or a list of them. */
const slotValue = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(...POOL),
  fc.array(fc.constantFrom(...POOL), { minLength: 1, maxLength: 3 }),
);

type Slots = Record<string, unknown>;

/** Assigns each (slot, value) in turn and checks every slot gives back what it was last given. */
function assignsExactly(record: Slots, slots: string[], steps: [number, unknown][]) {
  const model: Slots = Object.fromEntries(slots.map((s) => [s, record[s]]));
  for (const [i, v] of steps) {
    const slot = slots[i % slots.length]!;
    record[slot] = v;
    model[slot] = v;
    // toBe: the same sighting or list (identity), the same time (-0 comes back as 0: equal, as every use compares it)
    for (const s of slots) expect(record[s] === model[s] || Object.is(record[s], model[s])).toBe(true);
  }
}

describe('compact detector state', () => {
  it("a token's places, devices and networks each give back what was last put there", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), slotValue), { maxLength: 30 }), (steps) => {
        const t = new TokenState(hash52('jti'), 100);
        assignsExactly(t as unknown as Slots, ['place', 'devices', 'networks'], steps);
        expect(t.key).toBe(hash52('jti')); // the slots' bits beside the key leave it as it was
        expect(t.untilS).toBe(100);
      }),
    );
  });

  it("a family's holder, places, devices, revocation and newest refresh each give back what was last put there", () => {
    const time = fc.oneof(
      fc.constant(-1),
      fc.constant(0),
      fc.constantFrom(...POOL.map((s) => s.time_ms)), // a sighting's own time: kept as a bit
      fc.integer({ min: 0, max: 4e12 }),
      fc.double({ noNaN: true }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), slotValue, time), { maxLength: 40 }), (steps) => {
        const f = new FamilyState(hash52('family'), toSeconds(T0));
        const slots = ['latestBy', 'place', 'devices', 'revokedAtMs', 'newestMs'];
        // the two times take numbers, the holder one sighting, the others what a slot takes
        const typed = steps.map(([i, v, t]): [number, unknown] =>
          i % 5 === 3
            ? [i, t < 0 ? -1 : t]
            : i % 5 === 4
              ? [i, t]
              : [i, i % 5 === 0 && Array.isArray(v) ? v[0] : v],
        );
        assignsExactly(f as unknown as Slots, slots, typed);
        expect(f.key).toBe(hash52('family'));
      }),
    );
  });

  it("a session's places give back what was last put there", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), slotValue), { maxLength: 10 }), (steps) => {
        const s = new SessionState(hash52('sid'), toSeconds(T0));
        assignsExactly(s as unknown as Slots, ['place'], steps);
      }),
    );
  });

  it('a presentation keeps both hashes whatever is reported about it', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.constant(null)),
        fc.oneof(fc.string(), fc.constant(null)),
        fc.array(fc.constantFrom(0, 1, 2), { maxLength: 4 }),
        (a, b, reports) => {
          const from = a === null ? -1 : hash52(a);
          const to = b === null ? -1 : hash52(b);
          const p = new Presentation(from, to, POOL[0]!);
          expect(p.reported).toBe(0);
          for (const r of reports) {
            p.reported = r;
            expect([p.from, p.to, p.reported]).toEqual([from, to, r]);
          }
        },
      ),
    );
  });

  it("a subject's table finds exactly its live tokens: none, one alone, a few in an array, many in a Map", () => {
    const jti = fc.integer({ min: 0, max: 24 }).map((i) => `jti-${i}`);
    const step = fc.oneof(
      fc.record({ add: jti, atS: fc.integer({ min: 0, max: 100 }) }),
      fc.record({ pruneAtS: fc.integer({ min: 0, max: 200 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const s = new SubjectState();
        const live = new Map<string, number>(); // jti -> until (s)
        for (const x of steps) {
          if ('add' in x) {
            const at = T0 + x.atS * SECOND;
            tokenOf(s, x.add, ev({ at, jti: x.add, exp: 0 }), 50);
            live.set(x.add, Math.max(live.get(x.add) ?? 0, toSeconds(at) + 50));
          } else {
            const nowS = toSeconds(T0) + x.pruneAtS;
            pruneSubject(s, nowS, LIFETIMES);
            for (const [k, until] of live) if (until < nowS) live.delete(k);
          }
          expect(s.keys).toBe(live.size);
          for (let i = 0; i <= 24; i++)
            expect(trackedToken(s, `jti-${i}`)?.untilS).toBe(live.get(`jti-${i}`));
          const shape =
            s.tokens === undefined
              ? 'none'
              : Array.isArray(s.tokens)
                ? 'array'
                : s.tokens instanceof Map
                  ? 'map'
                  : 'alone';
          const expected =
            live.size === 0 ? 'none' : live.size === 1 ? 'alone' : live.size <= 8 ? 'array' : 'map';
          expect(shape).toBe(expected);
        }
      }),
    );
  });
});
