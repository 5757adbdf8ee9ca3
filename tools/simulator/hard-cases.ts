/**
 * The hard benign cases (`npm run eval -- --hard`): people whose networks switch in ways that look
 * like travel — an unlisted consumer VPN toggled on and off, iCloud Private Relay, a cloud security
 * proxy far from the office, a roaming SIM whose carrier egress stays at home, in-flight Wi-Fi
 * hopping continents, a home line the geo database places far away, and DPoP-bound clients toggling
 * that same consumer VPN (proving their own key from every network). Each is a user of its own
 * (subject `hard-<kind>-00042`) living the usual days (tools/simulator/day-plan.ts) with the
 * networks of those days rewritten; same devices, browsers and tokens throughout. Pure and seeded.
 */
import { userPlan } from './day-plan.ts';
import {
  CLOUD_PROXY_EXITS,
  type Exit,
  HOSTING_EXITS,
  INFLIGHT_EXITS,
  MISPLACED_LINES,
} from './hard-places.ts';
import { CITIES, type City, distanceKm } from './places.ts';
import { type Device, makeUser, mobileNet, type Network, type NetworkKind, type User } from './population.ts';
import type { Random } from './random.ts';
import { byTime, type Step } from './steps.ts';

export const HARD_CASE_KINDS = [
  'consumer_vpn',
  'private_relay',
  'cloud_proxy',
  'roaming_sim',
  'inflight_wifi',
  'misgeolocated',
  'dpop_bound',
] as const;
export type HardCaseKind = (typeof HARD_CASE_KINDS)[number];

/** Ground truth: a benign subject and the hard case it lives. */
export interface HardCaseLabel {
  subject: string;
  kind: HardCaseKind;
  description: string;
}

export interface HardCases {
  users: User[];
  steps: Step[];
  labels: HardCaseLabel[];
}

interface PlanWindow {
  startUtcMs: number;
  durationMs: number;
}

const MINUTE = 60_000;
/** a VPN switched on or off between two calls of the laptop */
const VPN_TOGGLE_CHANCE = 0.08;
/** Private Relay moving to another egress between two calls */
const RELAY_MOVE_CHANCE = 0.2;
/** calls the cloud proxy's client lets through directly */
const PROXY_BYPASS_CHANCE = 0.1;

const exitNet = (e: Exit, kind: NetworkKind): Network => ({
  ip: e.ip,
  kind,
  city: e.city,
  country: e.country,
});

const nearest = (exits: readonly Exit[], home: City) =>
  [...exits].sort((a, b) => distanceKm(home, a) - distanceKm(home, b));

/** The exits at least `km` away from home, or the farthest one when none is. */
function farFrom(exits: readonly Exit[], home: City, km: number): Exit[] {
  const far = exits.filter((e) => distanceKm(home, e) >= km);
  return far.length > 0 ? far : nearest(exits, home).slice(-1);
}

const isCall = (s: Step): s is Extract<Step, { kind: 'call' }> => s.kind === 'call';
const on = (device: Device | undefined) => (s: Step) => isCall(s) && s.device === device?.id;

/** Rewrites the network of the steps `which` picks (in time order), keeping everything else. */
function rewrite(steps: Step[], which: (s: Step) => boolean, net: (s: Step, original: Network) => Network) {
  return steps.map((s) => (which(s) && 'net' in s ? { ...s, net: net(s, s.net) } : s));
}

/** The laptop's VPN, on and off through the day, exiting in another country each time it comes on. */
function consumerVpn(user: User, steps: Step[], rnd: Random): Step[] {
  const exits = HOSTING_EXITS.filter((e) => e.country !== user.home.country);
  let exit: Exit | undefined = rnd.chance(0.5) ? rnd.pick(exits) : undefined;
  return rewrite(steps, on(user.devices[0]), (_s, original) => {
    if (rnd.chance(VPN_TOGGLE_CHANCE)) exit = exit === undefined ? rnd.pick(exits) : undefined;
    return exit === undefined ? original : exitNet(exit, 'consumer_vpn');
  });
}

/** The phone behind Private Relay: egress in the region (the three nearest), changing now and then. */
function privateRelay(user: User, steps: Step[], rnd: Random): Step[] {
  const region = nearest(HOSTING_EXITS, user.home).slice(0, 3);
  let exit = rnd.pick(region);
  return rewrite(steps, on(phoneOf(user)), () => {
    if (rnd.chance(RELAY_MOVE_CHANCE)) exit = rnd.pick(region);
    return exitNet(exit, 'relay');
  });
}

/** The laptop's traffic leaves through the company's proxy, an ocean or a continent away. */
function cloudProxy(user: User, steps: Step[], rnd: Random): Step[] {
  const exit = rnd.pick(farFrom(CLOUD_PROXY_EXITS, user.home, 3000));
  return rewrite(steps, on(user.devices[0]), (_s, original) =>
    rnd.chance(PROXY_BYPASS_CHANCE) ? original : exitNet(exit, 'cloud_proxy'),
  );
}

/** Abroad, the phone's data goes home through its carrier: egress in the home country. */
function roamingSim(user: User, steps: Step[], rnd: Random): Step[] {
  return rewrite(
    steps,
    (s) => on(phoneOf(user))(s) && 'net' in s && s.net.kind === 'mobile' && s.net.city !== user.home.name,
    () => mobileNet(user.home, rnd),
  );
}

/**
 * During the flight (between the last call at home and the first at the destination) the laptop
 * works on the plane's Wi-Fi, whose egress (the provider's satellite ground stations) hops between
 * continents.
 */
function inflightWifi(user: User, steps: Step[], rnd: Random, window: PlanWindow): Step[] {
  const sorted = [...steps].sort(byTime);
  const arrival = sorted.findIndex(
    (s) => 'net' in s && s.net.city !== user.home.name && (s.net.kind === 'hotel' || s.net.kind === 'mobile'),
  );
  if (arrival <= 0) return steps;
  const from = sorted[arrival - 1]!.at + 20 * MINUTE;
  const to = Math.min(sorted[arrival]!.at - 20 * MINUTE, window.durationMs - 1);
  const laptop = user.devices[0]!;
  const extra: Step[] = [];
  let exit = rnd.pick(INFLIGHT_EXITS);
  let hopAt = from;
  for (let t = from + rnd.exponential(6 * MINUTE); t < to; t += Math.max(2000, rnd.exponential(6 * MINUTE))) {
    if (t >= hopAt) {
      exit = rnd.pick(INFLIGHT_EXITS.filter((e) => e !== exit));
      hopAt = t + rnd.between(30, 60) * MINUTE;
    }
    extra.push({
      at: Math.round(t),
      subject: user.subject,
      kind: 'call',
      device: laptop.id,
      net: exitNet(exit, 'inflight'),
      source: 'api-gateway',
    });
  }
  return [...steps, ...extra];
}

const phoneOf = (user: User) => user.devices.find((d) => d.kind === 'phone');

/** A user of a hard case: the usual person, with a phone (every case but two needs one). */
function hardUser(kind: HardCaseKind, index: number, rnd: Random): User {
  const user = makeUser(index, rnd, `hard-${kind.replaceAll('_', '-')}`);
  if (phoneOf(user) === undefined)
    user.devices.push({
      id: `${user.subject}-phone`,
      kind: 'phone',
      userAgent: 'ShopApp/5.12 (iPhone; iOS 18.1; Scale/3.00)',
      proactive: true,
      tabs: 1,
      flaky: false,
    });
  if (kind === 'dpop_bound') for (const d of user.devices) d.dpop = true;
  if (kind === 'misgeolocated') {
    // the home line is in the user's city; the geo database says another continent
    const line = rnd.pick(farFrom(MISPLACED_LINES, user.home, 3000));
    user.homeNet = { ...user.homeNet, ip: line.ip };
  }
  return user;
}

const DESCRIPTIONS: Record<HardCaseKind, string> = {
  consumer_vpn: 'laptop switches an unlisted consumer VPN on and off (hosting exits in other countries)',
  private_relay: 'phone behind iCloud Private Relay (egress in the region, changing)',
  cloud_proxy: 'laptop behind a cloud security proxy egressing 3,000+ km from the office',
  roaming_sim: 'abroad, the phone’s carrier egress stays in the home country',
  inflight_wifi: 'laptop on in-flight Wi-Fi, satellite egress hopping between continents',
  misgeolocated: 'home line on a range the geo database places 3,000+ km away',
  dpop_bound: 'DPoP-bound client (every device proves its own key) toggling a consumer VPN',
};

/** The user `index` of hard case `kind`; `rnd`: the hard cases' generator (the same user whatever else is planned). */
export function hardCaseUser(kind: HardCaseKind, index: number, rnd: Random): User {
  return hardUser(kind, index, rnd.fork(`${kind}/${index}`).fork('user'));
}

/**
 * One hard-case user's steps in `window`: the usual days (from `plan`), their networks rewritten the
 * way the case does (from `networks`). The flying cases fly abroad with `travelPerDay` (default 1:
 * on the window's first day); the others stay home.
 */
export function hardCaseDays(
  kind: HardCaseKind,
  user: User,
  plan: Random,
  networks: Random,
  window: PlanWindow,
  activity = 1,
  travelPerDay = 1,
): Step[] {
  const flies = kind === 'roaming_sim' || kind === 'inflight_wifi';
  const abroad = CITIES.filter((c) => c.country !== user.home.country && distanceKm(c, user.home) > 3000);
  const days = flies
    ? userPlan(user, plan, window, travelPerDay, activity, abroad)
    : userPlan(user, plan, window, 0, activity);
  switch (kind) {
    case 'consumer_vpn':
    case 'dpop_bound':
      return consumerVpn(user, days, networks);
    case 'private_relay':
      return privateRelay(user, days, networks);
    case 'cloud_proxy':
      return cloudProxy(user, days, networks);
    case 'roaming_sim':
      return roamingSim(user, days, networks);
    case 'inflight_wifi':
      return inflightWifi(user, days, networks, window);
    case 'misgeolocated':
      return days;
  }
}

/** `perKind` users of every hard case, their benign days and their labels. */
export function planHardCases(perKind: number, rnd: Random, window: PlanWindow, activity = 1): HardCases {
  const users: User[] = [];
  const steps: Step[] = [];
  const labels: HardCaseLabel[] = [];
  for (const kind of HARD_CASE_KINDS)
    for (let i = 0; i < perKind; i++) {
      const r = rnd.fork(`${kind}/${i}`);
      const user = hardCaseUser(kind, i, rnd);
      users.push(user);
      steps.push(...hardCaseDays(kind, user, r.fork('plan'), r.fork('networks'), window, activity));
      labels.push({ subject: user.subject, kind, description: DESCRIPTIONS[kind] });
    }
  return { users, steps, labels };
}
