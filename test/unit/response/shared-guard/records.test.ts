/** The guard topic's records: what is written is read back; anything else is skipped, alike everywhere. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeRecord, type GuardRecord, parseRecord } from '../../../../response/shared-guard/records.ts';

const claim: GuardRecord = {
  v: 1,
  type: 'claim',
  claim_id: 'c1',
  instance: 'host-1-abc',
  tenant: 'acme',
  revocation_id: 'r1',
  detection_id: 'd1',
  tenant_limit: 30,
  total_limit: 120,
};

describe('guard records', () => {
  it('reads back what it writes, keyed by the target (claims, releases) or the instance (probes)', () => {
    const release: GuardRecord = {
      v: 1,
      type: 'release',
      claim_id: 'c1',
      instance: 'i',
      revocation_id: 'r1',
      detection_id: 'd1',
    };
    const probe: GuardRecord = { v: 1, type: 'probe', claim_id: 'p1', instance: 'i' };
    for (const r of [claim, release, probe]) {
      const m = encodeRecord(r);
      expect(parseRecord(Buffer.from(m.value))).toEqual(r);
    }
    // a claim carries its maker's reserve and window (an older maker's, neither: judged as before)
    const withReserve: GuardRecord = { ...claim, tenant_reserve: 3, window_ms: 5000 };
    expect(parseRecord(encodeRecord(withReserve).value)).toEqual(withReserve);
    expect(encodeRecord(claim).key).toBe('r1');
    expect(encodeRecord(probe).key).toBe('i');
  });

  it.each([
    ['null (a tombstone)', null],
    ['not JSON', '{'],
    ['another version', JSON.stringify({ ...claim, v: 2 })],
    ['an unknown type', JSON.stringify({ ...claim, type: 'grant' })],
    ['a negative limit', JSON.stringify({ ...claim, tenant_limit: -1 })],
    ['a fractional limit', JSON.stringify({ ...claim, total_limit: 1.5 })],
    ['a negative reserve', JSON.stringify({ ...claim, tenant_reserve: -1 })],
    ['a window longer than a minute', JSON.stringify({ ...claim, window_ms: 60_001 })],
    ['a missing id', JSON.stringify({ ...claim, detection_id: undefined })],
    ['an empty id', JSON.stringify({ ...claim, claim_id: '' })],
    ['too long', JSON.stringify({ ...claim, tenant: 'x'.repeat(5000) })],
  ])('skips %s', (_, value) => {
    expect(parseRecord(value === null ? null : Buffer.from(value))).toBeUndefined();
  });

  it('a record with any field values is read back as written, or skipped whole (property)', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.constantFrom('', '__proto__', 'constructor', '\u0000', '\ud800'),
    );
    fc.assert(
      fc.property(
        fc.record({
          claim_id: text,
          instance: text,
          tenant: text,
          revocation_id: text,
          detection_id: text,
          tenant_limit: fc.oneof(fc.integer(), fc.double(), fc.constant(Number.NaN)),
          total_limit: fc.integer({ min: -5, max: 2_000_000 }),
        }),
        (fields) => {
          const json = JSON.stringify({ v: 1, type: 'claim', ...fields });
          const r = parseRecord(json);
          if (r?.type === 'claim') {
            expect(r).toEqual(JSON.parse(json));
            expect(r.claim_id.length).toBeGreaterThan(0);
            expect(Number.isInteger(r.tenant_limit) && r.tenant_limit >= 0).toBe(true);
          } else expect(r).toBeUndefined();
        },
      ),
    );
  });

  it.each([
    ['a prototype key', `{"__proto__":{"polluted":1},${JSON.stringify(claim).slice(1)}`],
    ['an extra field', JSON.stringify({ ...claim, extra: 'x' })],
    ['a nested id', JSON.stringify({ ...claim, detection_id: { $gt: '' } })],
    ['an array', JSON.stringify([claim])],
  ])('%s: never pollutes, parses only a plain record', (_, value) => {
    const r = parseRecord(value);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    if (r !== undefined) expect(r.type === 'claim' && r.detection_id).toBe('d1');
  });

  it('never throws on any bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        expect(() => parseRecord(Buffer.from(bytes))).not.toThrow();
      }),
    );
    fc.assert(
      fc.property(fc.json(), (text) => {
        const r = parseRecord(text);
        if (r !== undefined) expect(['claim', 'release', 'probe']).toContain(r.type);
      }),
    );
  });
});
