import { describe, expect, it } from 'vitest';
import { backoffMs, retryAfterMs } from '../../../platform/backoff.ts';
import { AddressGuard } from '../../../platform/http/address-guard.ts';

describe('backoff', () => {
  const policy = { baseMs: 200, maxMs: 5000 };
  it('doubles per attempt up to the ceiling, with jitter between half and all of it', () => {
    expect(backoffMs(policy, 1, () => 0)).toBe(100);
    expect(backoffMs(policy, 1, () => 1)).toBe(200);
    expect(backoffMs(policy, 3, () => 1)).toBe(800);
    expect(backoffMs(policy, 20, () => 1)).toBe(5000);
    expect(backoffMs(policy, 20, () => 0)).toBe(2500);
    expect(backoffMs(policy, 1e9, () => 0.5)).toBe(3750);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('3', 0)).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(retryAfterMs('soon', 0)).toBeUndefined();
    expect(retryAfterMs(undefined, 0)).toBeUndefined();
  });
});

describe('address guard', () => {
  it('refuses link-local and metadata addresses, in every spelling', () => {
    const g = new AddressGuard();
    for (const a of [
      '169.254.169.254',
      '169.254.0.1',
      'fe80::1',
      'fd00:ec2::254',
      '::ffff:169.254.169.254',
      '100.100.100.200',
      '0.0.0.0',
    ])
      expect(g.refusal(a), a).toMatch(/link-local or a cloud metadata address/);
    for (const a of ['127.0.0.1', '10.1.2.3', '93.184.216.34', '2001:db8::1'])
      expect(g.refusal(a), a).toBeUndefined();
  });

  it('allows refused ranges the operator lists', () => {
    const g = new AddressGuard(['169.254.10.0/24']);
    expect(g.refusal('169.254.10.5')).toBeUndefined();
    expect(g.refusal('169.254.169.254')).toBeDefined();
  });
});
