import { describe, expect, it } from 'vitest';
import { TenantQuota } from '../../../../../ingest/sources/http/tenant-quota.ts';

describe('TenantQuota', () => {
  it('lets a burst through, then refuses with the seconds to wait, taking nothing when refused', () => {
    const q = new TenantQuota({ perSecond: 100, burstSeconds: 2 });
    expect(q.capacity).toBe(200);
    expect(q.take('a', 150, 0)).toBe(0);
    expect(q.take('a', 100, 0)).toBe(1); // 50 left: 50 more after 0.5 s → 1 s
    expect(q.take('a', 50, 0)).toBe(0); // the refused request took nothing
    expect(q.take('a', 100, 1000)).toBe(0); // refilled by 100
    expect(q.wait('a', 1, 1000)).toBe(1);
  });

  it('keeps tenants apart', () => {
    const q = new TenantQuota({ perSecond: 10, burstSeconds: 1 });
    expect(q.take('noisy', 10, 0)).toBe(0);
    expect(q.take('noisy', 1, 0)).toBeGreaterThan(0);
    expect(q.take('quiet', 10, 0)).toBe(0);
  });

  it('holds at least one whole request, and 0 means no limit', () => {
    const q = new TenantQuota({ perSecond: 10, burstSeconds: 1, minCapacity: 10_000 });
    expect(q.take('a', 10_000, 0)).toBe(0);
    expect(q.take('a', 10_000, 0)).toBe(1000);
    const open = new TenantQuota({ perSecond: 0, burstSeconds: 1 });
    expect(open.limited).toBe(false);
    expect(open.take('a', 1e12)).toBe(0);
  });
});
