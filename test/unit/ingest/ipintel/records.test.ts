/** MaxMind-format records → fields, and network kinds: the layouts of each database, and hostile records. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kindOfAnonymous, kindOfConnectionType } from '../../../../ingest/ipintel/network-kind.ts';
import { parseNetworkList } from '../../../../ingest/ipintel/network-list.ts';
import { asnOf, geoOfCity } from '../../../../ingest/ipintel/records.ts';
import { parseIp } from '../../../../platform/net/ip.ts';
import { cidrList, inList } from '../../../../platform/net/network.ts';

describe('geoOfCity', () => {
  it('takes the registered country when the record has no country, and no place without a location', () => {
    expect(geoOfCity({ registered_country: { iso_code: 'FR' } }, 100)).toStrictEqual({
      country: 'FR',
      region: '',
      city: '',
      lat: 0,
      lon: 0,
      radius_km: 0,
    });
  });

  it('refuses coordinates off the globe and keeps a radius within the Earth', () => {
    expect(geoOfCity({ location: { latitude: 91, longitude: 0, accuracy_radius: 5 } }, 100)).toMatchObject({
      lat: 0,
      lon: 0,
      radius_km: 0,
    });
    expect(geoOfCity({ location: { latitude: 1, longitude: 2, accuracy_radius: 1e9 } }, 100).radius_km).toBe(
      20_000,
    );
  });

  it('never throws and always gives strings and finite numbers, whatever the record holds', () => {
    fc.assert(
      fc.property(fc.option(fc.dictionary(fc.string(), fc.jsonValue()), { nil: null }), (r) => {
        const g = geoOfCity(r, 100);
        for (const v of [g.lat, g.lon, g.radius_km]) expect(Number.isFinite(v)).toBe(true);
        for (const v of [g.country, g.region, g.city]) expect(typeof v).toBe('string');
        const a = asnOf(r);
        expect(Number.isInteger(a.asn) && a.asn >= 0 && a.asn < 2 ** 32).toBe(true);
        expect(typeof a.as_org).toBe('string');
        expect(['', 'hosting', 'anonymizer', 'mobile', 'residential']).toContain(kindOfAnonymous(r));
        expect(['', 'mobile', 'satellite']).toContain(kindOfConnectionType(r));
      }),
      { numRuns: 500 },
    );
  });
});

describe('network kinds', () => {
  it('an anonymizer before a residential proxy before hosting; only true flags count', () => {
    expect(kindOfAnonymous({ is_hosting_provider: true, is_anonymous_vpn: true })).toBe('anonymizer');
    expect(kindOfAnonymous({ is_hosting_provider: true, is_residential_proxy: true })).toBe('residential');
    expect(kindOfAnonymous({ is_hosting_provider: true })).toBe('hosting');
    expect(kindOfAnonymous({ is_anonymous: true })).toBe('anonymizer');
    expect(kindOfAnonymous({ is_anonymous_vpn: 'true', is_tor_exit_node: 1 })).toBe('');
    expect(kindOfConnectionType({ connection_type: 'Cable/DSL' })).toBe('');
    expect(kindOfConnectionType({ connection_type: 'Cellular' })).toBe('mobile');
    expect(kindOfConnectionType({ connection_type: 'Satellite' })).toBe('satellite');
  });

  it('the operator list: the first of hosting, anonymizer, mobile, residential, satellite when listed twice', () => {
    const list = parseNetworkList('198.51.100.0/24 mobile\n198.51.100.7 hosting\n');
    expect(list.entries).toBe(2);
    expect(list.kindOf('198.51.100.7')).toBe('hosting');
    expect(list.kindOf('198.51.100.8')).toBe('mobile');
    expect(list.kindOf('2001:db8::1')).toBe('');
    expect(() => parseNetworkList('300.1.1.1/8 hosting')).toThrow(/^line 1: invalid CIDR "300.1.1.1\/8"/);
  });

  it('holds the same addresses as a BlockList of the same networks, IPv4 and IPv6', () => {
    const v4 = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, n]) => `${a}/${n}`);
    const v6 = fc
      .tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 }))
      .map(([a, n]) => `${parseIp(a)!.address}/${n}`)
      .filter((c) => c.includes(':')); // (mapped IPv4 is unwrapped by ingest: not a v6 network here)
    const near = (cidr: string) =>
      fc
        .integer({ min: 0, max: 255 })
        .map((b) => `${cidr.split('/')[0]!.replace(/\d+$|[0-9a-f]+$/, String(b))}`);
    fc.assert(
      fc.property(
        fc
          .oneof(v4, v6)
          .chain((cidr) =>
            fc.tuple(
              fc.constant(cidr),
              fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), near(cidr)), { maxLength: 8 }),
            ),
          ),
        ([cidr, addresses]) => {
          const list = parseNetworkList(`${cidr} hosting`);
          const block = cidrList([cidr]);
          for (const raw of addresses) {
            const a = parseIp(raw)?.address;
            if (a === undefined) continue;
            // other family: never in the list (a BlockList counts IPv4 in IPv6 networks holding ::ffff:0:0/96)
            const sameFamily = a.includes(':') === cidr.includes(':');
            expect(list.kindOf(a), `${a} in ${cidr}`).toBe(sameFamily && inList(block, a) ? 'hosting' : '');
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
