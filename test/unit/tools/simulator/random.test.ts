/** The simulator's seeded generator: reproducible, independent per named part, within its bounds. */
import { describe, expect, it } from 'vitest';
import { Random } from '../../../../tools/simulator/random.ts';

const draw = (r: Random, n: number) => Array.from({ length: n }, () => r.float());

describe('Random', () => {
  it('the same seed gives the same sequence; another seed another one', () => {
    const a = draw(new Random('tokenwatch'), 200);
    expect(draw(new Random('tokenwatch'), 200)).toStrictEqual(a);
    const b = draw(new Random('tokenwatch2'), 200);
    expect(b).not.toStrictEqual(a);
    // not merely shifted or mostly equal: hardly any position agrees
    expect(a.filter((x, i) => x === b[i]).length).toBeLessThan(3);
    expect(draw(new Random(42), 50)).toStrictEqual(draw(new Random('42'), 50));
  });

  it('floats are in [0, 1) and spread over it', () => {
    const xs = draw(new Random('spread'), 20_000);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const tenths = new Array(10).fill(0);
    for (const x of xs) tenths[Math.floor(x * 10)]++;
    for (const n of tenths) expect(n).toBeGreaterThan(1700); // 2,000 expected in each
    expect(new Set(xs).size).toBeGreaterThan(19_900);
  });

  it('fork(name) depends on the seed and the name only, not on what the parent drew', () => {
    const fresh = new Random('root').fork('user-7');
    const used = new Random('root');
    draw(used, 123);
    used.int(1, 6);
    expect(draw(used.fork('user-7'), 100)).toStrictEqual(draw(fresh, 100));
    expect(draw(new Random('root').fork('user-8'), 100)).not.toStrictEqual(
      draw(new Random('root').fork('user-7'), 100),
    );
    expect(draw(new Random('other').fork('user-7'), 100)).not.toStrictEqual(
      draw(new Random('root').fork('user-7'), 100),
    );
    // a fork is not the parent's own sequence
    expect(draw(new Random('root').fork('x'), 100)).not.toStrictEqual(draw(new Random('root'), 100));
    expect(new Random('root').fork(3).seed).toBe('root/3');
  });

  it('int(min, max) is an integer in [min, max], both ends reachable; between(min, max) in [min, max)', () => {
    const r = new Random('bounds');
    const ints = Array.from({ length: 5000 }, () => r.int(3, 7));
    expect(ints.every((n) => Number.isInteger(n) && n >= 3 && n <= 7)).toBe(true);
    expect([...new Set(ints)].sort()).toStrictEqual([3, 4, 5, 6, 7]);
    expect(Array.from({ length: 100 }, () => r.int(5, 5))).toStrictEqual(new Array(100).fill(5));
    const floats = Array.from({ length: 5000 }, () => r.between(-2.5, 4));
    expect(floats.every((x) => x >= -2.5 && x < 4)).toBe(true);
    expect(Math.min(...floats)).toBeLessThan(-2.4);
    expect(Math.max(...floats)).toBeGreaterThan(3.9);
  });

  it('chance(p) comes true about p of the time; exponential(mean) averages the mean', () => {
    const r = new Random('odds');
    const hits = Array.from({ length: 10_000 }, () => r.chance(0.3)).filter(Boolean).length;
    expect(hits).toBeGreaterThan(2800);
    expect(hits).toBeLessThan(3200);
    expect(Array.from({ length: 100 }, () => r.chance(0)).some(Boolean)).toBe(false);
    const waits = Array.from({ length: 10_000 }, () => r.exponential(90_000));
    expect(waits.every((w) => w >= 0)).toBe(true);
    const mean = waits.reduce((a, b) => a + b, 0) / waits.length;
    expect(mean).toBeGreaterThan(85_000);
    expect(mean).toBeLessThan(95_000);
  });

  it('pick returns every item now and then, and throws on an empty list', () => {
    const r = new Random('pick');
    const items = ['a', 'b', 'c', 'd'] as const;
    const picked = new Set(Array.from({ length: 200 }, () => r.pick(items)));
    expect([...picked].sort()).toStrictEqual(['a', 'b', 'c', 'd']);
    expect(() => r.pick([])).toThrow(/nothing to pick from/);
  });
});
