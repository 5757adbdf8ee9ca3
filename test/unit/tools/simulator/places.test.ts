/**
 * The simulator's places against geoip-lite, the database ingest enriches events with: every address
 * must still land where the simulator says, or a geoip-lite update silently turns a user's home line
 * into another country (false impossible travel) or an attacker into a neighbour (missed). Failures
 * name the address that moved and where it lands now.
 */
import { BlockList } from 'node:net';
import geoip from 'geoip-lite';
import { describe, expect, it } from 'vitest';
import {
  ATTACKER_CITIES,
  CITIES,
  type City,
  distanceKm,
  sameBlock,
  VPN_EGRESS_CIDR,
  VPN_EGRESS_IPS,
} from '../../../../tools/simulator/places.ts';

const ALL: readonly City[] = [...CITIES, ...ATTACKER_CITIES];
/** the last octets attacks use in the /24 of a fixed line (attackerNet, access_clone: 2 + index % 250) */
const ATTACK_OCTETS = Array.from({ length: 250 }, (_, i) => 2 + i);

const city = (name: string) => ALL.find((c) => c.name === name)!;

/** Where an address lands now, or why it is not where `c` says (undefined: fine). */
function misplaced(ip: string, c: City, kind: 'fixed' | 'mobile'): string | undefined {
  const g = geoip.lookup(ip);
  const moved = (why: string) =>
    `${ip} (${kind}, ${c.name} ${c.country}) ${why} — geoip-lite moved it? Replace it in tools/simulator/places.ts`;
  if (g === null) return moved('is not in geoip-lite any more');
  const at = `now ${g.country || '??'} ${g.city || '(no city)'} ${g.ll.join(',')} ±${g.area} km`;
  if (g.country !== c.country) return moved(`is in another country: ${at}`);
  if (kind === 'mobile') return g.area >= 100 ? undefined : moved(`is located precisely: ${at}`);
  const km = distanceKm(c, { lat: g.ll[0], lon: g.ll[1] });
  return km <= 50 && g.area <= 50 ? undefined : moved(`is ${km.toFixed(0)} km from the city: ${at}`);
}

describe('places', () => {
  it('every city has fixed lines and carrier addresses, and a unique name', () => {
    for (const c of ALL) {
      expect(c.fixed.length, c.name).toBeGreaterThanOrEqual(3);
      expect(c.mobile.length, c.name).toBeGreaterThanOrEqual(1);
    }
    expect(new Set(ALL.map((c) => c.name)).size).toBe(ALL.length);
  });

  it('every fixed line geolocates to its city (its country, within 50 km, accuracy radius at most 50 km)', () => {
    const problems = ALL.flatMap((c) => c.fixed.map((ip) => misplaced(ip, c, 'fixed'))).filter(Boolean);
    expect(problems).toStrictEqual([]);
  });

  it('every carrier address geolocates to its country, only roughly (accuracy radius at least 100 km)', () => {
    const problems = ALL.flatMap((c) => c.mobile.map((ip) => misplaced(ip, c, 'mobile'))).filter(Boolean);
    expect(problems).toStrictEqual([]);
  });

  it('the neighbours of fixed lines that attacks use (same /24) land in the same city', () => {
    const problems: string[] = [];
    for (const c of ALL)
      for (const ip of c.fixed)
        for (const last of ATTACK_OCTETS) {
          const p = misplaced(sameBlock(ip, last), c, 'fixed');
          if (p !== undefined) problems.push(p);
        }
    expect(problems.slice(0, 20)).toStrictEqual([]);
  });

  it("attackers' networks are nobody's home, office or phone network", () => {
    const block = (ip: string) => sameBlock(ip, 0);
    const users = new Set(CITIES.flatMap((c) => [...c.fixed, ...c.mobile].map(block)));
    const shared = ATTACKER_CITIES.flatMap((c) => c.fixed.filter((ip) => users.has(block(ip))));
    expect(shared).toStrictEqual([]);
    for (const a of ATTACKER_CITIES) expect(CITIES.map((c) => c.name)).not.toContain(a.name);
  });

  it("the VPN's egress addresses are inside its allowlisted network (Amsterdam); no user or attacker address is", () => {
    const vpn = new BlockList();
    const [net, prefix] = VPN_EGRESS_CIDR.split('/');
    vpn.addSubnet(net!, Number(prefix), 'ipv4');
    expect(VPN_EGRESS_IPS.length).toBeGreaterThan(0);
    for (const ip of VPN_EGRESS_IPS) {
      expect(vpn.check(ip, 'ipv4'), `${ip} outside ${VPN_EGRESS_CIDR}`).toBe(true);
      expect(misplaced(ip, city('Amsterdam'), 'fixed')).toBeUndefined();
    }
    expect(vpn.check('212.104.254.1', 'ipv4')).toBe(false); // the check itself can say no
    const inside = ALL.flatMap((c) => [...c.fixed, ...c.mobile]).filter((ip) => vpn.check(ip, 'ipv4'));
    expect(inside).toStrictEqual([]);
  });

  it('distanceKm: great-circle distances between known cities', () => {
    const km = (a: string, b: string) => distanceKm(city(a), city(b));
    expect(km('Berlin', 'São Paulo')).toBeGreaterThan(10_200);
    expect(km('Berlin', 'São Paulo')).toBeLessThan(10_300);
    expect(km('London', 'Paris')).toBeGreaterThan(335);
    expect(km('London', 'Paris')).toBeLessThan(350);
    expect(km('New York', 'Los Angeles')).toBeGreaterThan(3900);
    expect(km('New York', 'Los Angeles')).toBeLessThan(3990);
    expect(km('Sydney', 'Tokyo')).toBeGreaterThan(7750);
    expect(km('Sydney', 'Tokyo')).toBeLessThan(7850);
    expect(km('Tokyo', 'Sydney')).toBeCloseTo(km('Sydney', 'Tokyo'), 6);
    expect(km('Berlin', 'Berlin')).toBe(0);
    // across the antimeridian: the short way round
    expect(distanceKm({ lat: 0, lon: 179 }, { lat: 0, lon: -179 })).toBeLessThan(250);
  });

  it('sameBlock replaces the last octet', () => {
    expect(sameBlock('94.134.133.183', 7)).toBe('94.134.133.7');
    expect(sameBlock('1.2.3.4', 250)).toBe('1.2.3.250');
  });
});
