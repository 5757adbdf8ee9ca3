import { describe, expect, it } from 'vitest';
import { BlastRadiusGuard } from '../../../../response/decide/guard.ts';
import { admitLinked } from '../../../../response/decide/linked-budget.ts';

describe('blast-radius guard', () => {
  it('allows up to the per-tenant limit in a sliding minute, then refuses and trips once', () => {
    const g = new BlastRadiusGuard({ perTenantPerMinute: 3, totalPerMinute: 100 });
    const t0 = 1_000_000;
    expect([0, 1, 2].map((i) => g.allow('a', t0 + i).allowed)).toEqual([true, true, true]);
    const first = g.allow('a', t0 + 3);
    expect(first).toEqual({ allowed: false, scope: 'tenant', limit: 3, tripped: true, page: true });
    const second = g.allow('a', t0 + 4);
    expect(second).toMatchObject({ allowed: false, tripped: false, page: false });
    // another tenant has its own budget
    expect(g.allow('b', t0 + 5).allowed).toBe(true);
    // a minute after the first three, budget is back; the trip continues until a quiet minute
    expect(g.allow('a', t0 + 60_001).allowed).toBe(true);
  });

  it('counts a revocation standing for several (linked access tokens) as that many', () => {
    const g = new BlastRadiusGuard({ perTenantPerMinute: 10, totalPerMinute: 100 });
    expect(g.allow('a', 0, 8).allowed).toBe(true);
    expect(g.allow('a', 1, 3)).toMatchObject({ allowed: false, scope: 'tenant', limit: 10 });
    expect(g.allow('a', 2, 2).allowed).toBe(true);
    expect(g.allow('a', 3).allowed).toBe(false);
  });

  it('admits linked access tokens one by one, up to what is left of the budget', () => {
    const g = new BlastRadiusGuard({ perTenantPerMinute: 30, totalPerMinute: 100 });
    expect(g.allow('a', 0).allowed).toBe(true); // the family itself
    expect(admitLinked(g, 'a', 5, 1)).toBe(5);
    // a framing linking 1,000 tokens gets what is left of the minute's budget, not 1,000
    expect(admitLinked(g, 'a', 1000, 2)).toBe(24);
    expect(admitLinked(g, 'a', 1, 3)).toBe(0);
    expect(admitLinked(g, 'b', 1, 4)).toBe(1);
    expect(admitLinked(g, 'b', 0, 5)).toBe(0);
  });

  it('holds the total limit across tenants', () => {
    const g = new BlastRadiusGuard({ perTenantPerMinute: 10, totalPerMinute: 5 });
    const verdicts = Array.from({ length: 8 }, (_, i) => g.allow(`t${i}`, 1000 + i));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(5);
    expect(verdicts[5]).toEqual({ allowed: false, scope: 'total', limit: 5, tripped: true, page: true });
    expect(verdicts[6]).toMatchObject({ allowed: false, scope: 'total', tripped: false });
  });

  it('pages once per episode, however many scopes trip in it', () => {
    const g = new BlastRadiusGuard({ perTenantPerMinute: 2, totalPerMinute: 3 });
    g.allow('a', 0);
    g.allow('a', 1);
    expect(g.allow('a', 2)).toMatchObject({ scope: 'tenant', tripped: true, page: true });
    g.allow('b', 3); // the third of the total budget
    expect(g.allow('b', 4)).toMatchObject({ scope: 'total', tripped: true, page: false });
    expect(g.allow('c', 5)).toMatchObject({ scope: 'total', tripped: false, page: false });
    expect(g.allow('c', 70_000)).toMatchObject({ allowed: true });
    expect(g.allow('c', 70_001)).toMatchObject({ allowed: true });
    expect(g.allow('c', 70_002)).toMatchObject({ allowed: false, page: true });
  });

  it('trips again after a whole minute without refusals, and reports tripped scopes', () => {
    const g = new BlastRadiusGuard({ perTenantPerMinute: 1, totalPerMinute: 100 });
    g.allow('a', 0);
    expect(g.allow('a', 10)).toMatchObject({ tripped: true });
    expect(g.tripped(20)).toEqual({ tenants: 1, total: false });
    expect(g.tripped(60_011)).toEqual({ tenants: 0, total: false });
    g.allow('a', 120_000);
    expect(g.allow('a', 120_001)).toMatchObject({ allowed: false, tripped: true });
  });

  it('a limit of 0 refuses everything', () => {
    const g = new BlastRadiusGuard({ perTenantPerMinute: 0, totalPerMinute: 0 });
    expect(g.allow('a', 0).allowed).toBe(false);
  });

  it('stays correct over many revocations (window trimming)', () => {
    const g = new BlastRadiusGuard({ perTenantPerMinute: 100, totalPerMinute: 100 });
    let allowed = 0;
    // 10,000 attempts, one every 100 ms: at most 100 per sliding minute → 60 s / 100 ms = 600 per minute offered
    for (let i = 0; i < 10_000; i++) if (g.allow('a', i * 100).allowed) allowed++;
    // 1,000 s of traffic at a budget of 100 per minute ≈ 1,667 allowed
    expect(allowed).toBeGreaterThanOrEqual(1600);
    expect(allowed).toBeLessThanOrEqual(1700);
  });
});
