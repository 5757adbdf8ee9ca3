import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  capacityOf,
  lagThirds,
  p99WithMissing,
  type StepFigures,
  unsustainedBecause,
} from '../../../../tools/bench/capacity-steps.ts';

const step = (o: Partial<StepFigures> = {}): StepFigures => ({
  targetRate: 10_000,
  achievedRate: 9_950,
  probes: 30,
  found: 30,
  p99: 120,
  lagStart: 4_000,
  lagEnd: 5_000,
  ...o,
});

describe('bench:capacity steps', () => {
  it('a step within the goal, lag steady and the load reached is sustained', () => {
    expect(unsustainedBecause(step(), 250)).toBe('');
  });

  it('says each reason a step was not sustained', () => {
    expect(unsustainedBecause(step({ p99: 251 }), 250)).toBe('p99 251 ms > 250 ms');
    expect(unsustainedBecause(step({ found: 28, p99: 100 }), 250)).toBe('2 of 30 probes not found');
    expect(unsustainedBecause(step({ lagStart: 1_000, lagEnd: 11_001 }), 250)).toBe(
      'lag grew from 1000 to 11001 events',
    );
    expect(unsustainedBecause(step({ achievedRate: 8_000, p99: 900 }), 250)).toBe(
      'the load generator reached 8000 events/s only; p99 900 ms > 250 ms',
    );
  });

  it('lag growing by exactly one second of the load is still steady', () => {
    expect(unsustainedBecause(step({ lagStart: 0, lagEnd: 10_000 }), 250)).toBe('');
  });

  it('a p99 that is not a number (no probes arrived to measure) is not within the goal', () => {
    expect(unsustainedBecause(step({ p99: Number.NaN }), 250)).toContain('p99');
  });

  it('p99 counts a probe never found as slower than every found one', () => {
    const found = Array.from({ length: 99 }, (_, i) => i);
    expect(p99WithMissing(found, 100)).toBe(98);
    expect(p99WithMissing(found.slice(0, 98), 100)).toBe(Infinity);
    expect(p99WithMissing([], 0)).toBeNaN();
  });

  it('p99 is never below that of the found probes alone, whatever is missing', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(10_000), { minLength: 1 }), fc.nat(5), (latencies, missing) => {
        const sorted = [...latencies].sort((a, b) => a - b);
        const alone = sorted[Math.ceil(0.99 * sorted.length) - 1]!;
        expect(p99WithMissing(latencies, latencies.length + missing)).toBeGreaterThanOrEqual(alone);
      }),
    );
  });

  it('lag thirds: the means of the first and last third of the samples', () => {
    expect(lagThirds([1, 2, 3, 4, 5, 6])).toEqual({ lagStart: 1.5, lagEnd: 5.5 });
    expect(lagThirds([7, 9])).toEqual({ lagStart: 7, lagEnd: 9 });
    expect(() => lagThirds([])).toThrow(/no lag samples/);
  });

  it('capacity: the last sustained step before the first that was not', () => {
    const s = (achievedRate: number, sustained: boolean) => ({ ...step({ achievedRate }), sustained });
    expect(capacityOf([s(5_000, true), s(9_900, true), s(14_000, false), s(19_000, true)])).toBe(9_900);
    expect(capacityOf([s(5_000, false)])).toBe(0);
    expect(capacityOf([s(5_000, true), s(10_000, true)])).toBe(10_000);
  });
});
