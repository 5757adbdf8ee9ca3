/** Networks and distances (pure): /24 and /48 networks, private/reserved ranges, CIDR allowlists, great-circle distance. */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** The client's network: /24 for IPv4, /48 for IPv6 (an ISP hands one customer about that much). */
export function networkOf(ip: string): string {
  if (isIPv4(ip)) return `${ip.split('.').slice(0, 3).join('.')}.0/24`;
  if (!isIPv6(ip)) return '';
  const [head = '', tail = ''] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const full = ip.includes('::')
    ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${full
    .slice(0, 3)
    .map((h) => Number.parseInt(h, 16).toString(16))
    .join(':')}::/48`;
}

const RESERVED_V4 = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 3],
] as const;
const RESERVED_V6 = [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['2001:db8::', 32],
  ['ff00::', 8],
] as const;
// (IPv4-mapped IPv6 is not listed: ingest normalizes it to IPv4, and Node's BlockList would match every IPv4 address with it.)

/** Parses "CIDR,CIDR,…" (IPv4 or IPv6; a bare address is a /32 or /128) into a BlockList; throws on a bad entry. */
export function cidrList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of cidrs) {
    const [address = '', prefixText] = entry.trim().split('/');
    const type = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    const max = type === 'ipv4' ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (type === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
      throw new Error(
        `invalid CIDR ${JSON.stringify(entry)}: expected an IPv4/IPv6 address with an optional /prefix`,
      );
    }
    list.addSubnet(address, prefix, type);
  }
  return list;
}

const RESERVED = (() => {
  const list = new BlockList();
  for (const [a, p] of RESERVED_V4) list.addSubnet(a, p, 'ipv4');
  for (const [a, p] of RESERVED_V6) list.addSubnet(a, p, 'ipv6');
  return list;
})();

export function inList(list: BlockList, ip: string): boolean {
  if (isIPv4(ip)) return list.check(ip, 'ipv4');
  if (isIPv6(ip)) return list.check(ip, 'ipv6');
  return false;
}

/** Private, loopback, link-local, documentation, CGNAT, multicast and other addresses that say nothing about a place. */
export function isPrivateOrReserved(ip: string): boolean {
  return inList(RESERVED, ip);
}

/** Whether an address can tell places and networks apart: not private/reserved, not an allowlisted proxy or VPN. */
export function isTelling(ip: string, allowlist: BlockList): boolean {
  return ip !== '' && !isPrivateOrReserved(ip) && !inList(allowlist, ip);
}

const EARTH_RADIUS_KM = 6371.0088;
const rad = (deg: number) => (deg * Math.PI) / 180;

/** Great-circle distance in km (haversine). */
export function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const dLat = rad(lat2 - lat1);
  const dLon = rad(lon2 - lon1);
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}
