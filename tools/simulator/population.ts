/**
 * The simulated users: a home city, home and office lines, several devices (laptop, phone, often a
 * tablet), some on the corporate VPN, some working from home, some with several browser tabs or a
 * flaky phone connection. Pure and seeded: the same seed and size give the same people.
 */
import { CITIES, type City, VPN_EGRESS_IPS } from './places.ts';
import type { Random } from './random.ts';

export type NetworkKind =
  | 'home'
  | 'office'
  | 'mobile'
  | 'vpn'
  | 'hotel'
  | 'attacker'
  // the hard benign cases (tools/simulator/hard-cases.ts)
  | 'consumer_vpn'
  | 'relay'
  | 'cloud_proxy'
  | 'inflight';

/** Where a request comes from. */
export interface Network {
  ip: string;
  kind: NetworkKind;
  city: string;
  country: string;
}

export type DeviceKind = 'laptop' | 'phone' | 'tablet';

export interface Device {
  id: string;
  kind: DeviceKind;
  userAgent: string;
  /** refreshes before the access token expires (apps); otherwise on a 401 `expired` (browsers) */
  proactive: boolean;
  /** open tabs that each refresh at once when the token expires (browsers) */
  tabs: number;
  /** loses a refresh response now and then, and retries it (phones on bad networks) */
  flaky: boolean;
  /** its tokens are bound to its own DPoP key, which it proves on every call (RFC 9449) */
  dpop?: true;
}

export interface User {
  subject: string;
  home: City;
  homeNet: Network;
  officeNet: Network;
  /** works from home (no office) */
  remote: boolean;
  /** works through the corporate VPN (its egress is allowlisted) */
  vpn: boolean;
  /** local time offset from UTC, hours (from the home's longitude) */
  utcOffsetH: number;
  devices: Device[];
}

const BROWSER_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';
const MAC_UA =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15';
const IOS_UA = 'ShopApp/5.12 (iPhone; iOS 18.1; Scale/3.00)';
const ANDROID_UA = 'ShopApp/5.12 (Linux; Android 15; Pixel 8)';
const TABLET_UA = 'ShopApp/5.12 (iPad; iPadOS 18.1; Scale/2.00)';

export const network = (city: City, kind: NetworkKind, ip: string): Network => ({
  ip,
  kind,
  city: city.name,
  country: city.country,
});

// Exactly the listed addresses: a neighbour in the same /24 may be placed hundreds of km away.

/** A carrier address near the city (phones on mobile data). */
export function mobileNet(city: City, rnd: Random): Network {
  return network(city, 'mobile', rnd.pick(city.mobile));
}

/** A fixed line in the city (a home's, an office's, a hotel's). */
export function fixedNet(city: City, kind: NetworkKind, rnd: Random): Network {
  return network(city, kind, rnd.pick(city.fixed));
}

export const vpnNet = (rnd: Random): Network => ({
  ip: rnd.pick(VPN_EGRESS_IPS),
  kind: 'vpn',
  city: 'Amsterdam (VPN)',
  country: 'NL',
});

/** User `index` (subject `<prefix>-00042`); the hard benign cases use their own prefixes. */
export function makeUser(index: number, rnd: Random, prefix = 'user'): User {
  const home = rnd.pick(CITIES);
  const subject = `${prefix}-${String(index).padStart(5, '0')}`;
  const devices: Device[] = [
    {
      id: `${subject}-laptop`,
      kind: 'laptop',
      userAgent: rnd.chance(0.6) ? BROWSER_UA : MAC_UA,
      proactive: false,
      tabs: rnd.chance(0.35) ? rnd.int(2, 4) : 1,
      flaky: false,
    },
  ];
  if (rnd.chance(0.9))
    devices.push({
      id: `${subject}-phone`,
      kind: 'phone',
      userAgent: rnd.chance(0.5) ? IOS_UA : ANDROID_UA,
      proactive: true,
      tabs: 1,
      flaky: rnd.chance(0.15),
    });
  if (rnd.chance(0.25))
    devices.push({
      id: `${subject}-tablet`,
      kind: 'tablet',
      userAgent: TABLET_UA,
      proactive: true,
      tabs: 1,
      flaky: false,
    });
  return {
    subject,
    home,
    homeNet: fixedNet(home, 'home', rnd),
    officeNet: fixedNet(home, 'office', rnd),
    remote: rnd.chance(0.3),
    vpn: rnd.chance(0.15),
    utcOffsetH: Math.round(home.lon / 15),
    devices,
  };
}

/** `size` users, each from its own generator (user i is the same whatever the size). */
export function makePopulation(size: number, rnd: Random): User[] {
  return Array.from({ length: size }, (_, i) => makeUser(i, rnd.fork(`user-${i}`)));
}
