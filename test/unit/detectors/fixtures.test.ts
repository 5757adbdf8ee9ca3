/**
 * The detectors' hard cases, one folder each under test/fixtures/detectors/ (events in, findings
 * expected, a README saying what the case is), run through the real pipeline and runtime: in
 * event-time order; redelivered (at-least-once delivery: every event twice, then the whole stream
 * again), which must change nothing; and in random orders within the allowed lateness, with
 * duplicates, which must find the same targets with the same detectors (which event of a misuse a
 * finding names as its trigger may differ: the first to arrive).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REGISTRY } from '../../../detectors/registry.ts';
import { asExpected, loadFixtures, runFixture } from '../../support/detector-fixtures.ts';

const fixtures = loadFixtures();

describe('detector fixtures', () => {
  it('has the hard cases, benign and hostile', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(12);
    expect(fixtures.filter((f) => f.expected.length === 0).length).toBeGreaterThanOrEqual(5);
  });

  it.each(fixtures.map((f) => [f.name, f] as const))('%s: in event-time order', (_name, f) => {
    expect(asExpected(runFixture(f))).toEqual(f.expected);
  });

  it.each(fixtures.map((f) => [f.name, f] as const))('%s: redelivered', (_name, f) => {
    const twice = f.lines.flatMap((l) => [l, l]);
    expect(asExpected(runFixture(f, [...twice, ...f.lines]))).toEqual(f.expected);
  });
});

/** What a fixture's verdict is, whatever the order: which detectors found what target. */
const verdict = (found: ReturnType<typeof asExpected>) =>
  [...new Set(found.map((f) => `${f.detector} ${f.target}`))].sort();

describe('detector fixtures in any order within the allowed lateness', () => {
  const LATENESS_MS = REGISTRY.defaults.allowedLatenessMs as number;

  it.each(fixtures.map((f) => [f.name, f] as const))('%s', (_name, f) => {
    const times = f.lines.map((l) => Date.parse((JSON.parse(l) as { time: string }).time));
    fc.assert(
      fc.property(
        // each event is reported up to the allowed lateness after it happened, some twice
        fc.array(fc.integer({ min: 0, max: LATENESS_MS }), {
          minLength: f.lines.length,
          maxLength: f.lines.length,
        }),
        fc.array(fc.nat({ max: f.lines.length - 1 }), { maxLength: 3 }),
        (delays, again) => {
          const arrivals = f.lines.map((line, i) => ({ line, at: times[i]! + delays[i]! }));
          for (const i of again)
            arrivals.push({ line: f.lines[i]!, at: times[i]! + delays[(i + 1) % delays.length]! });
          arrivals.sort((a, b) => a.at - b.at);
          const order = arrivals.map((a) => a.line);
          expect(verdict(asExpected(runFixture(f, order)))).toEqual(verdict(f.expected));
        },
      ),
      { numRuns: 200 },
    );
  });
});
