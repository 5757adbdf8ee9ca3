/** The simulation's clock: simulated (jumps forward to each step, never back) and real (waits). */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SimClock } from '../../../../tools/simulator/clock.ts';

const START = Date.UTC(2025, 2, 4, 6);

describe('SimClock, simulated', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts at its start and moves forward only', async () => {
    const clock = new SimClock(true, START);
    expect(clock.simulated).toBe(true);
    expect(clock.startMs).toBe(START);
    expect(clock.now()).toBe(START);
    await clock.reach(90_000);
    expect(clock.now()).toBe(START + 90_000);
    expect(clock.elapsed()).toBe(90_000);
    await clock.reach(30_000); // a step already passed: no going back
    expect(clock.now()).toBe(START + 90_000);
    await clock.reach(90_000);
    expect(clock.now()).toBe(START + 90_000);
    await clock.reach(3_600_000);
    expect(clock.elapsed()).toBe(3_600_000);
    const { now } = clock; // bound: passed around as a function
    expect(now()).toBe(START + 3_600_000);
  });

  it('does not wait for simulated time: a day is reached before any timer could fire', async () => {
    const clock = new SimClock(true, START);
    const reached = await Promise.race([
      clock.reach(86_400_000).then(() => true),
      new Promise((r) => setTimeout(() => r(false), 0)),
    ]);
    expect(reached).toBe(true);
  });

  it('wallTimeOf: when the clock passed a simulated moment, on the wall clock', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    const clock = new SimClock(true, START);
    expect(clock.wallTimeOf(START)).toBeUndefined(); // nothing sampled yet
    // one sample per simulated second or more: at sim +k s, wall 1,000,000 + 10·k ms
    for (let k = 1; k <= 100; k++) {
      vi.setSystemTime(1_000_000 + 10 * k);
      await clock.reach(k * 1000);
    }
    vi.setSystemTime(5_000_000);
    await clock.reach(100_400); // less than a second after the last sample: not sampled
    expect(clock.wallTimeOf(START + 999)).toBeUndefined(); // before the first sample
    expect(clock.wallTimeOf(START + 1000)).toBe(1_000_010);
    expect(clock.wallTimeOf(START + 2500)).toBe(1_000_020);
    expect(clock.wallTimeOf(START + 37_000)).toBe(1_000_370);
    expect(clock.wallTimeOf(START + 37_999)).toBe(1_000_370);
    expect(clock.wallTimeOf(START + 100_000)).toBe(1_001_000);
    expect(clock.wallTimeOf(START + 100_400)).toBe(1_001_000);
    expect(clock.wallTimeOf(START + 10 * 86_400_000)).toBe(1_001_000);
  });
});

describe('SimClock, real', () => {
  it('is the wall clock, starting now; reach waits until the moment; wallTimeOf is the identity', async () => {
    const before = Date.now();
    const clock = new SimClock(false, START); // a real clock ignores the start it is given
    expect(clock.simulated).toBe(false);
    expect(clock.startMs).toBeGreaterThanOrEqual(before);
    expect(clock.startMs).toBeLessThanOrEqual(Date.now());
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(50);
    const target = Date.now() - clock.startMs + 40;
    await clock.reach(target);
    // timers may fire a millisecond early by Date.now()'s rounding; far from returning at once
    expect(Date.now()).toBeGreaterThanOrEqual(clock.startMs + target - 2);
    await clock.reach(0); // the past: returns
    expect(clock.wallTimeOf(START)).toBe(START);
  });
});
