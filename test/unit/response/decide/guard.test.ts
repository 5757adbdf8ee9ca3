import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlastRadiusGuard } from '../../../../response/decide/guard.ts';

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
    // what was asked counts, refused or not: a minute after the first three, the two refused
    // ones and this one still fill the minute…
    expect(g.allow('a', t0 + 60_001).allowed).toBe(false);
    // …until a minute after the asks ebb below the limit
    expect(g.allow('a', t0 + 120_002).allowed).toBe(true);
  });

  it('admits linked access tokens one by one, up to what is left of the budget', () => {
    const g = new BlastRadiusGuard({ perTenantPerMinute: 30, totalPerMinute: 100 });
    expect(g.allow('a', 0).allowed).toBe(true); // the family itself
    expect(g.admitUpTo('a', 5, 1)).toBe(5);
    // a framing linking 1,000 tokens gets what is left of the minute's budget, not 1,000
    expect(g.admitUpTo('a', 1000, 2)).toBe(24);
    expect(g.admitUpTo('a', 1, 3)).toBe(0);
    // the linked tokens used the budget: the tenant's next finding is refused…
    expect(g.allow('a', 4)).toMatchObject({ allowed: false, scope: 'tenant' });
    // …while another tenant's is not, and the total counts both
    expect(g.admitUpTo('b', 1, 5)).toBe(1);
    expect(g.admitUpTo('b', 0, 6)).toBe(0);
    expect(new BlastRadiusGuard({ perTenantPerMinute: 30, totalPerMinute: 3 }).admitUpTo('c', 9, 0)).toBe(3);
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

  it('a flood keeps it shut while it lasts; below the limit everything passes (window trimming)', () => {
    // 10,000 asks, one every 100 ms: 600 a minute against 100 → the first 100, then shut
    const flooded = new BlastRadiusGuard({ perTenantPerMinute: 100, totalPerMinute: 100 });
    let allowed = 0;
    for (let i = 0; i < 10_000; i++) if (flooded.allow('a', i * 100).allowed) allowed++;
    expect(allowed).toBe(100);
    // one every 700 ms: 86 a minute → all of them
    const calm = new BlastRadiusGuard({ perTenantPerMinute: 100, totalPerMinute: 100 });
    allowed = 0;
    for (let i = 0; i < 10_000; i++) if (calm.allow('a', i * 700).allowed) allowed++;
    expect(allowed).toBe(10_000);
  });

  it('a tenant past its own limit does not spend the overall budget (one tenant’s flood costs that tenant)', () => {
    const g = new BlastRadiusGuard({ perTenantPerMinute: 2, totalPerMinute: 3 });
    for (let i = 0; i < 100; i++) g.allow('noisy', i);
    expect(g.allow('quiet', 200)).toEqual({ allowed: true });
  });

  it('never allows more than the limits in any sliding minute (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ gap: fc.integer({ min: 0, max: 20_000 }), tenant: fc.constantFrom('a', 'b', 'c') }),
          {
            maxLength: 400,
          },
        ),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 10 }),
        (asks, perTenant, total) => {
          const g = new BlastRadiusGuard({ perTenantPerMinute: perTenant, totalPerMinute: total });
          let t = 0;
          const allowed: { t: number; tenant: string }[] = [];
          for (const a of asks) {
            t += a.gap;
            if (g.allow(a.tenant, t).allowed) allowed.push({ t, tenant: a.tenant });
          }
          for (const end of allowed) {
            const inMinute = allowed.filter((x) => x.t > end.t - 60_000 && x.t <= end.t);
            expect(inMinute.length).toBeLessThanOrEqual(total);
            expect(inMinute.filter((x) => x.tenant === end.tenant).length).toBeLessThanOrEqual(perTenant);
          }
        },
      ),
    );
  });

  it('reserves: each tenant’s first asks pass whatever the total; floods of a few tenants leave the others theirs', () => {
    const g = new BlastRadiusGuard({ perTenantPerMinute: 5, totalPerMinute: 4, reservedPerTenant: 2 });
    // two noisy tenants: 2 reserved each, then 4 of the total between them, then refused
    const noisy = Array.from({ length: 20 }, (_, i) => g.allow(i % 2 === 0 ? 'x' : 'y', i));
    expect(noisy.filter((v) => v.allowed)).toHaveLength(8);
    expect(g.room('x', 20)).toBe(0);
    // a quiet tenant in the same minute still has its reserve…
    expect(g.room('quiet', 20)).toBe(2);
    expect(g.allow('quiet', 21)).toEqual({ allowed: true });
    expect(g.allow('quiet', 22)).toEqual({ allowed: true });
    // …and past it the spent total holds
    expect(g.allow('quiet', 23)).toMatchObject({ allowed: false, scope: 'total' });
    expect(g.room('quiet', 24)).toBe(0);
  });

  it('room reads only, and says what a claim now would get', () => {
    const g = new BlastRadiusGuard({ perTenantPerMinute: 3, totalPerMinute: 10, reservedPerTenant: 1 });
    expect(g.room('a', 0)).toBe(3);
    g.allow('a', 0);
    g.allow('a', 1);
    expect(g.room('a', 2)).toBe(1);
    expect(g.room('a', 60_000)).toBe(2); // the first left the window
    // reading at a later time forgets nothing the verdicts still need
    expect(g.allow('a', 3)).toEqual({ allowed: true });
    expect(g.allow('a', 4)).toMatchObject({ allowed: false, scope: 'tenant' });
  });

  it('a shorter window (drills) is judged over that window', () => {
    const g = new BlastRadiusGuard({ perTenantPerMinute: 1, totalPerMinute: 10, windowMs: 2000 });
    expect(g.allow('a', 0).allowed).toBe(true);
    expect(g.allow('a', 1999)).toMatchObject({ allowed: false, tripped: true });
    expect(g.tripped(2000)).toEqual({ tenants: 1, total: false });
    expect(g.room('a', 3999)).toBe(1);
    expect(g.allow('a', 4000).allowed).toBe(true);
    expect(g.tripped(4000)).toEqual({ tenants: 0, total: false });
  });

  it('linked tokens use the tenant’s reserve first, then the total', () => {
    const g = new BlastRadiusGuard({ perTenantPerMinute: 10, totalPerMinute: 2, reservedPerTenant: 3 });
    expect(g.admitUpTo('a', 9, 0)).toBe(5);
    expect(g.admitUpTo('b', 9, 1)).toBe(3);
  });

  it('with reserves, never more than total + the reserves of the tenants asking in any window (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            gap: fc.integer({ min: 0, max: 20_000 }),
            tenant: fc.constantFrom('a', 'b', 'c', 'd'),
          }),
          { maxLength: 400 },
        ),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 0, max: 4 }),
        (asks, perTenant, total, reserve) => {
          const g = new BlastRadiusGuard({
            perTenantPerMinute: perTenant,
            totalPerMinute: total,
            reservedPerTenant: reserve,
          });
          let t = 0;
          const allowed: { t: number; tenant: string }[] = [];
          const asked: { t: number; tenant: string }[] = [];
          for (const a of asks) {
            t += a.gap;
            asked.push({ t, tenant: a.tenant });
            if (g.allow(a.tenant, t).allowed) allowed.push({ t, tenant: a.tenant });
          }
          for (const end of allowed) {
            const inMinute = allowed.filter((x) => x.t > end.t - 60_000 && x.t <= end.t);
            const tenants = new Set(inMinute.map((x) => x.tenant)).size;
            expect(inMinute.length).toBeLessThanOrEqual(total + Math.min(reserve, perTenant) * tenants);
            expect(inMinute.filter((x) => x.tenant === end.tenant).length).toBeLessThanOrEqual(perTenant);
          }
          // a tenant that asked fewer than its reserve in the window before is never refused by the total
          const g2 = new BlastRadiusGuard({
            perTenantPerMinute: perTenant,
            totalPerMinute: total,
            reservedPerTenant: reserve,
          });
          for (const [i, a] of asked.entries()) {
            const before = asked
              .slice(0, i)
              .filter((x) => x.tenant === a.tenant && x.t > a.t - 60_000).length;
            const v = g2.allow(a.tenant, a.t);
            if (before < Math.min(reserve, perTenant)) expect(v.allowed).toBe(true);
          }
        },
      ),
    );
  });
});
