import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../../../response/revoke/breaker.ts';

describe('circuit breaker', () => {
  it('opens after N failures in a row, lets one probe through after the cooldown, closes on success', () => {
    const b = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000 });
    expect(b.acquire(0)).toBe(0);
    b.failure(0);
    b.failure(1);
    expect(b.state(2)).toBe('closed');
    b.failure(2);
    expect(b.state(3)).toBe('open');
    expect(b.acquire(500)).toBe(502);
    expect(b.acquire(1002)).toBe(0); // the probe
    expect(b.acquire(1003)).toBeGreaterThan(0); // only one probe at a time
    b.success();
    expect(b.state(1004)).toBe('closed');
    expect(b.acquire(1004)).toBe(0);
  });

  it('a failed probe opens it again for a whole cooldown', () => {
    const b = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 100 });
    b.failure(0);
    expect(b.acquire(100)).toBe(0);
    b.failure(100);
    expect(b.state(150)).toBe('open');
    expect(b.acquire(150)).toBe(50);
  });

  it('a success resets the count of failures', () => {
    const b = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 100 });
    b.failure(0);
    b.success();
    b.failure(1);
    expect(b.state(2)).toBe('closed');
  });
});
