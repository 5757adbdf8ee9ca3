import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { partitionOfKey } from '../../../../platform/kafka/client.ts';
import { addressKey, eventKey, MISROUTINGS, misrouting } from '../../../../platform/kafka/keys.ts';

describe('message keys', () => {
  it('are tenant:subject and tenant:ip', () => {
    expect(eventKey('acme', 'alice')).toBe('acme:alice');
    expect(addressKey('acme', '2a00:1450::1')).toBe('acme:2a00:1450::1');
  });

  it('murmur2 as kafkajs and the Java client place keys (known values)', () => {
    // Kafka's murmur2 (seed 0x9747b28c), positive, modulo the count: acme:alice → 1432927490.
    expect(partitionOfKey('acme:alice', 4)).toBe(1432927490 % 4);
    expect(partitionOfKey('acme:alice', 7)).toBe(1432927490 % 7);
  });
});

describe('misrouting', () => {
  const key = 'acme:alice';
  const home = partitionOfKey(key, 6);
  const elsewhere = (home + 1) % 6;

  it('is nothing where the body’s key puts the message, whatever its own key', () => {
    expect(misrouting({ key, partition: home }, key, 6)).toBeUndefined();
    expect(misrouting({ key: undefined, partition: home }, key, 6)).toBeUndefined();
    expect(misrouting({ key: 'alice', partition: home }, key, 6)).toBeUndefined();
  });

  it('says why a message is elsewhere: no key, another key, another partitioner', () => {
    expect(misrouting({ key: undefined, partition: elsewhere }, key, 6)).toBe('missing_key');
    expect(misrouting({ key: '', partition: elsewhere }, key, 6)).toBe('missing_key');
    expect(misrouting({ key: 'alice', partition: elsewhere }, key, 6)).toBe('wrong_key');
    expect(misrouting({ key, partition: elsewhere }, key, 6)).toBe('other_partitioner');
  });
});

describe('keys and misrouting on hostile input', () => {
  const hostile = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.constantFrom('', ':', '::', '\u0000', '\uD800', 'a:b:c', '\uFEFF', 'acme:alice'),
  );
  const tenant = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);
  const count = fc.integer({ min: 1, max: 64 });

  it('a partition is in range, and the same for a key and its well-formed text (what Kafka is sent)', () => {
    fc.assert(
      fc.property(hostile, count, (key, n) => {
        const p = partitionOfKey(key, n);
        expect(Number.isInteger(p) && p >= 0 && p < n).toBe(true);
        expect(partitionOfKey(key.toWellFormed(), n)).toBe(p);
      }),
    );
  });

  it('the tenant (no `:` in it) is the key up to its first `:`, whatever the subject holds', () => {
    fc.assert(
      fc.property(tenant, hostile, (t, s) => {
        const key = eventKey(t, s);
        expect(key.slice(0, key.indexOf(':'))).toBe(t);
        expect(key.slice(key.indexOf(':') + 1)).toBe(s);
      }),
    );
  });

  it('says nothing at home and exactly one cause elsewhere, never throwing', () => {
    fc.assert(
      fc.property(
        fc.option(hostile, { nil: undefined }),
        tenant,
        hostile,
        count,
        fc.nat(),
        (key, t, s, n, at) => {
          const expected = eventKey(t, s);
          const partition = at % n;
          const cause = misrouting({ key, partition }, expected, n);
          if (partition === partitionOfKey(expected, n)) expect(cause).toBeUndefined();
          else if (key === undefined || key === '') expect(cause).toBe('missing_key');
          else expect(cause).toBe(key === expected ? 'other_partitioner' : 'wrong_key');
          expect(cause === undefined || MISROUTINGS.includes(cause)).toBe(true);
        },
      ),
    );
  });
});
