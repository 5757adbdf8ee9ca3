/**
 * The hard benign cases' addresses against geoip-lite: each must still land where
 * tools/simulator/hard-places.ts says (or a geoip-lite update quietly turns a VPN exit abroad into a
 * neighbour and the hard eval measures nothing), none inside the allowlisted corporate VPN, and the
 * mis-geolocated lines really are registered far from where geoip-lite puts them (European ranges).
 */
import { BlockList } from 'node:net';
import geoip from 'geoip-lite';
import { describe, expect, it } from 'vitest';
import {
  CLOUD_PROXY_EXITS,
  type Exit,
  HOSTING_EXITS,
  INFLIGHT_CIDR,
  INFLIGHT_EXITS,
  MISPLACED_LINES,
} from '../../../../tools/simulator/hard-places.ts';
import { distanceKm, VPN_EGRESS_CIDR } from '../../../../tools/simulator/places.ts';

const ALL: readonly Exit[] = [...HOSTING_EXITS, ...CLOUD_PROXY_EXITS, ...INFLIGHT_EXITS, ...MISPLACED_LINES];

function misplaced(e: Exit): string | undefined {
  const g = geoip.lookup(e.ip);
  const moved = (why: string) =>
    `${e.ip} (${e.city} ${e.country}) ${why}: replace it in tools/simulator/hard-places.ts`;
  if (g === null) return moved('is not in geoip-lite any more');
  if (g.country !== e.country) return moved(`is in ${g.country} ${g.city} now`);
  const km = distanceKm(e, { lat: g.ll[0], lon: g.ll[1] });
  return km <= 50 ? undefined : moved(`is ${km.toFixed(0)} km away now (${g.city})`);
}

describe('hard-case places', () => {
  it('every exit and line geolocates where it says (its country, within 50 km)', () => {
    expect(ALL.map(misplaced).filter(Boolean)).toStrictEqual([]);
  });

  it('the addresses are unique and none is in the allowlisted corporate VPN', () => {
    expect(new Set(ALL.map((e) => e.ip)).size).toBe(ALL.length);
    const [net, bits] = VPN_EGRESS_CIDR.split('/');
    const allowlist = new BlockList();
    allowlist.addSubnet(net!, Number(bits));
    expect(ALL.filter((e) => allowlist.check(e.ip)).map((e) => e.ip)).toStrictEqual([]);
  });

  it('consumer-VPN exits span continents (a VPN can always exit in another country)', () => {
    expect(new Set(HOSTING_EXITS.map((e) => e.country)).size).toBeGreaterThanOrEqual(6);
    expect(new Set(CLOUD_PROXY_EXITS.map((e) => e.country)).size).toBeGreaterThanOrEqual(5);
  });

  it('in-flight exits: all in the provider’s one network, its ground stations on five continents', () => {
    const [net, bits] = INFLIGHT_CIDR.split('/');
    const provider = new BlockList();
    provider.addSubnet(net!, Number(bits));
    expect(INFLIGHT_EXITS.filter((e) => !provider.check(e.ip)).map((e) => e.ip)).toStrictEqual([]);
    expect(ALL.filter((e) => provider.check(e.ip) && !INFLIGHT_EXITS.includes(e))).toStrictEqual([]);
    const continent = (e: Exit) =>
      e.lon < -30
        ? e.lat < 0
          ? 'south america'
          : 'north america'
        : e.lon < 60
          ? 'europe'
          : e.lat < -10
            ? 'australia'
            : 'asia';
    expect(new Set(INFLIGHT_EXITS.map(continent)).size).toBe(5);
  });
});
