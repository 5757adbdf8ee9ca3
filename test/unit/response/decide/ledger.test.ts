/** The guard's ledger: verdicts on claims (budget + one revocation per target), alike in every replica. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WINDOW_MS } from '../../../../response/decide/guard.ts';
import {
  type ClaimVerdict,
  COPY_MS,
  type GuardClaim,
  GuardLedger,
  HISTORY_MS,
  UNANSWERED,
  Unanswered,
  verdictsGuard,
} from '../../../../response/decide/ledger.ts';

const claim = (detectionId: string, revocationId = `r-${detectionId}`, tenant = 'acme'): GuardClaim => ({
  tenant,
  revocationId,
  detectionId,
});
const kinds = (vs: ClaimVerdict[]) => vs.map((v) => (v.kind === 'refused' ? `refused:${v.scope}` : v.kind));

/** A claim in a table: detection, target, tenant, time (ms) and the verdict expected. */
type Step = [detection: string, target: string, tenant: string, atMs: number, expected: string];

const TABLE: { name: string; perTenant: number; total: number; steps: Step[]; release?: [string, string] }[] =
  [
    {
      name: 'the tenant budget allows the first N asks of a minute, refuses the rest',
      perTenant: 2,
      total: 10,
      steps: [
        ['d1', 'K1', 'a', 0, 'allowed'],
        ['d2', 'K2', 'a', 1, 'allowed'],
        ['d3', 'K3', 'a', 2, 'refused:tenant'],
        ['d4', 'K4', 'b', 3, 'allowed'],
      ],
    },
    {
      name: 'the overall budget holds across tenants',
      perTenant: 5,
      total: 2,
      steps: [
        ['d1', 'K1', 'a', 0, 'allowed'],
        ['d2', 'K2', 'b', 1, 'allowed'],
        ['d3', 'K3', 'c', 2, 'refused:total'],
      ],
    },
    {
      name: 'refused asks count: the minute after a flood is still shut, a quiet minute opens it',
      perTenant: 1,
      total: 10,
      steps: [
        ['d1', 'K1', 'a', 0, 'allowed'],
        ['d2', 'K2', 'a', 30_000, 'refused:tenant'],
        ['d3', 'K3', 'a', 60_001, 'refused:tenant'],
        ['d4', 'K4', 'a', 200_000, 'allowed'],
      ],
    },
    {
      name: 'one revocation per target: the second detection of a target is held, and counted',
      perTenant: 2,
      total: 10,
      steps: [
        ['d1', 'K', 'a', 0, 'allowed'],
        ['d2', 'K', 'a', 1, 'held'],
        ['d3', 'K3', 'a', 2, 'refused:tenant'],
      ],
    },
    {
      name: 'a refused claim holds nothing: a later one for its target may take it',
      perTenant: 1,
      total: 10,
      steps: [
        ['d1', 'K1', 'a', 0, 'allowed'],
        ['d2', 'K', 'a', 1, 'refused:tenant'],
        ['d3', 'K', 'a', 120_000, 'allowed'],
      ],
    },
    {
      name: 'a limit of 0 refuses everything',
      perTenant: 0,
      total: 10,
      steps: [['d1', 'K1', 'a', 0, 'refused:tenant']],
    },
  ];

describe('guard ledger (table)', () => {
  it.each(TABLE)('$name', ({ perTenant, total, steps }) => {
    const l = new GuardLedger({ perTenantPerMinute: perTenant, totalPerMinute: total });
    const got = steps.map(([d, k, tenant, at]) => l.claim(claim(d, k, tenant), at));
    expect(kinds(got)).toEqual(steps.map((s) => s[4]));
  });
});

describe('guard ledger', () => {
  it('a copy of a claim (a retried write that landed twice) gets its verdict again, counting nothing', () => {
    const l = new GuardLedger({ perTenantPerMinute: 2, totalPerMinute: 10 });
    const limits = l.limits;
    expect(kinds([l.apply(claim('d1'), 0, limits, 'c1'), l.apply(claim('d1'), 1, limits, 'c1')])).toEqual([
      'allowed',
      'allowed',
    ]);
    expect(l.apply(claim('d2'), 2, limits, 'c2')).toEqual({ kind: 'allowed' });
    expect(l.apply(claim('d3'), 3, limits, 'c3')).toMatchObject({
      kind: 'refused',
      tripped: true,
      page: true,
    });
    // a copy of a refusal is the refusal again, without a second trip or page
    expect(l.apply(claim('d3'), 4, limits, 'c3')).toMatchObject({
      kind: 'refused',
      tripped: false,
      page: false,
    });
    // a claim id is remembered for COPY_MS
    expect(l.apply(claim('d1'), COPY_MS + 10, limits, 'c1')).toEqual({ kind: 'allowed' });
  });

  it('a detection claiming again (decided afresh on another instance) is judged and counted again', () => {
    const l = new GuardLedger({ perTenantPerMinute: 2, totalPerMinute: 10 });
    expect(l.claim(claim('d1', 'K'), 0)).toEqual({ kind: 'allowed' });
    expect(l.claim(claim('d1', 'K'), 1)).toEqual({ kind: 'allowed' }); // it holds K: the same revocation
    expect(l.claim(claim('d1', 'K'), 2)).toMatchObject({ kind: 'refused' }); // but it counts
  });

  it('one revocation per target: a later claim by another detection is held (its slot counted)', () => {
    const l = new GuardLedger({ perTenantPerMinute: 3, totalPerMinute: 10 });
    expect(l.claim(claim('d1', 'K'), 0)).toEqual({ kind: 'allowed' });
    expect(l.claim(claim('d2', 'K'), 1)).toEqual({ kind: 'held', by: 'd1' });
    expect(l.holder('K')).toBe('d1');
    expect(l.claim(claim('d3', 'K2'), 2)).toEqual({ kind: 'allowed' });
    expect(l.claim(claim('d4', 'K3'), 3)).toMatchObject({ kind: 'refused', scope: 'tenant' });
  });

  it('remembers a target’s holder for a month, beyond the recent history', () => {
    const l = new GuardLedger({ perTenantPerMinute: 3, totalPerMinute: 10 });
    l.claim(claim('d1', 'K'), 0);
    expect(l.claim(claim('d2', 'K'), 86_400_000)).toEqual({ kind: 'held', by: 'd1' });
    expect(l.claim(claim('d3', 'K'), 31 * 86_400_000)).toEqual({ kind: 'allowed' });
  });

  it('judges each claim by the limits it carries (its maker’s)', () => {
    const l = new GuardLedger({ perTenantPerMinute: 100, totalPerMinute: 100 });
    expect(l.apply(claim('d1'), 0, { perTenantPerMinute: 1, totalPerMinute: 100 })).toEqual({
      kind: 'allowed',
    });
    expect(l.apply(claim('d2'), 1, { perTenantPerMinute: 1, totalPerMinute: 100 })).toMatchObject({
      kind: 'refused',
      limit: 1,
    });
    expect(l.apply(claim('d3'), 2, { perTenantPerMinute: 5, totalPerMinute: 100 })).toEqual({
      kind: 'allowed',
    });
  });

  it('a release frees the target for a later claim; the slot stays counted; the released detection stays refused', () => {
    const l = new GuardLedger({ perTenantPerMinute: 2, totalPerMinute: 10 });
    expect(l.claim(claim('d1', 'K'), 0)).toEqual({ kind: 'allowed' });
    l.release({ revocationId: 'K', detectionId: 'd1' }, 1);
    expect(l.holder('K')).toBeUndefined();
    expect(l.claim(claim('d2', 'K'), 2)).toEqual({ kind: 'allowed' });
    expect(l.claim(claim('d3', 'K3'), 3)).toMatchObject({ kind: 'refused' }); // d1's slot still counts
    // a release by a detection that does not hold the target changes nothing
    l.release({ revocationId: 'K', detectionId: 'd9' }, 5);
    expect(l.holder('K')).toBe('d2');
  });

  it('time never goes backwards: an earlier time counts as the latest seen', () => {
    const l = new GuardLedger({ perTenantPerMinute: 1, totalPerMinute: 10 });
    l.claim(claim('d1'), 100_000);
    expect(l.claim(claim('d2'), 0)).toMatchObject({ kind: 'refused' });
    expect(l.claim(claim('d3'), Number.NaN)).toMatchObject({ kind: 'refused' });
    // all three were asked at 100 000: a minute later the window is clear
    expect(l.claim(claim('d4'), 100_000 + WINDOW_MS)).toEqual({ kind: 'allowed' });
  });

  it('replicas that start reading at different times judge every claim after HISTORY_MS alike (property)', () => {
    const op = fc.record({
      // mostly a flood (what keeps a sliding window full across a replica's start), now and then a lull
      gapMs: fc.oneof(
        { weight: 30, arbitrary: fc.integer({ min: 0, max: 3000 }) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 20 * 60_000 }) },
      ),
      tenant: fc.constantFrom('a', 'b'),
      detection: fc.integer({ min: 0, max: 60 }),
      target: fc.integer({ min: 0, max: 12 }),
      /** a release follows the claim (when it was allowed) */
      release: fc.boolean(),
      /** a copy of an earlier claim (a retried write), this many claims back */
      copyOf: fc.option(fc.integer({ min: 1, max: 30 }), { freq: 4 }),
    });
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 50, maxLength: 800 }),
        fc.nat(),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 3 }),
        (ops, where, limit, reserve) => {
          let t = 0;
          const log: { t: number; c: GuardClaim; id: string; release: boolean }[] = [];
          for (const [i, o] of ops.entries()) {
            t += o.gapMs;
            const copied = o.copyOf === null ? undefined : log[log.length - o.copyOf];
            log.push(
              copied !== undefined
                ? { ...copied, t, release: false }
                : {
                    t,
                    c: claim(`d${o.detection}`, `K${o.target}`, o.tenant),
                    id: `c${i}`,
                    release: o.release,
                  },
            );
          }
          const startAt = log[where % log.length]!.t;
          // (a tenant's reserve, which the total does not count, too)
          const limits = { perTenantPerMinute: limit, totalPerMinute: limit + 1, reservedPerTenant: reserve };
          const early = new GuardLedger(limits);
          const late = new GuardLedger(limits);
          /** claim id → when last read: a record whose id was read less than COPY_MS before is a copy */
          const lastRead = new Map<string, number>();
          for (const r of log) {
            const last = lastRead.get(r.id);
            const copy = last !== undefined && r.t - last < COPY_MS;
            lastRead.set(r.id, r.t);
            // releases are records of their own, read by both alike
            const v1 = early.apply(r.c, r.t, limits, r.id);
            const released = r.release && v1.kind === 'allowed';
            if (released) early.release(r.c, r.t);
            if (r.t < startAt) continue; // the later replica has not read this
            const v2 = late.apply(r.c, r.t, limits, r.id);
            if (released) late.release(r.c, r.t);
            // (a copy's verdict is its first read's, which the later replica may not have read;
            // nobody acts on it: the claim's maker acted on the first)
            if (r.t < startAt + HISTORY_MS || copy) continue;
            // what decides the budget is alike: refused or not, the scope, the trip and the page
            const budget = (v: ClaimVerdict) => (v.kind === 'refused' ? v : 'passed');
            expect(budget(v2)).toEqual(budget(v1));
          }
        },
      ),
      { numRuns: 300 },
    );
    // ~0.3 s alone; the machine may be shared
  }, 30_000);
});

describe('guard ledger replicas', () => {
  it('a chain of copies a few minutes apart (each within COPY_MS of the last) counts once in every replica', () => {
    const limits = { perTenantPerMinute: 1, totalPerMinute: 10 };
    const early = new GuardLedger(limits);
    const late = new GuardLedger(limits);
    const gap = COPY_MS - 60_000;
    early.apply(claim('d1'), 0, limits, 'c1');
    for (let i = 1; i <= 5; i++) {
      early.apply(claim('d1'), i * gap, limits, 'c1');
      late.apply(claim('d1'), i * gap, limits, 'c1'); // the later replica starts at the first copy
    }
    // long after it started, a new claim just after the last copy: the copy counted in neither
    const t = 5 * gap + 1;
    expect(late.apply(claim('d2'), t, limits, 'c2')).toEqual(early.apply(claim('d2'), t, limits, 'c2'));
    expect(early.apply(claim('d3'), t + WINDOW_MS + 1, limits, 'c3')).toEqual({ kind: 'allowed' });
  });

  it('a replica that starts in the middle of a long flood judges every claim as one that saw it all', () => {
    // (counting only what was allowed, the two would stay a phase apart as long as the flood lasts)
    const limits = { perTenantPerMinute: 2, totalPerMinute: 3 };
    const early = new GuardLedger(limits);
    const late = new GuardLedger(limits);
    const startAt = 30_500;
    let judged = 0;
    for (let i = 0; i < 2000; i++) {
      const t = i * 1000 + ((i * 7919) % 997);
      const c = claim(`d${i}`, `K${i}`, i % 3 === 0 ? 'b' : 'a');
      const v1 = early.apply(c, t, limits, `c${i}`);
      if (t < startAt) continue;
      const v2 = late.apply(c, t, limits, `c${i}`);
      if (t < startAt + HISTORY_MS) continue;
      judged++;
      expect(v2).toEqual(v1);
    }
    expect(judged).toBeGreaterThan(1500);
  });
});

describe('verdicts had beforehand', () => {
  it('a claim gets its own verdict, or its target’s claim’s (without a new page), or UNANSWERED', () => {
    const trip: ClaimVerdict = { kind: 'refused', scope: 'tenant', limit: 3, tripped: true, page: true };
    const guard = verdictsGuard(new Map([['d1', trip]]), [claim('d1', 'K')]);
    expect(guard.claim(claim('d1', 'K'), 0)).toBe(trip);
    expect(guard.claim(claim('d2', 'K'), 0)).toEqual({ ...trip, tripped: false, page: false });
    expect(guard.claim(claim('d3', 'K3'), 0)).toEqual(UNANSWERED);
  });

  it('no verdict in time: the first refusal of an episode pages, the rest of that minute do not', () => {
    const u = new Unanswered();
    expect(u.verdict(0)).toMatchObject({ scope: 'unavailable', page: true, tripped: true });
    expect(u.verdict(59_000)).toMatchObject({ page: false });
    expect(u.verdict(100_000)).toMatchObject({ page: false });
    expect(u.verdict(160_001)).toMatchObject({ page: true });
  });
});
