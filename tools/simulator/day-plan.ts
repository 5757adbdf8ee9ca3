/**
 * A benign user's days, as steps: the phone in the morning at home, on mobile data on the way to
 * work (switching from Wi-Fi to the carrier mid-session), at lunch and in the evening; the laptop
 * through the working day at the office, at home or through the corporate VPN, asleep overnight
 * (it wakes with an expired token); a tablet in the evening; now and then a logout (with a stale
 * tab presenting the old token once) and a flight to another city at airliner speed, with the same
 * tokens used at both ends. Local times follow the home's time zone.
 */
import { CITIES, type City, distanceKm } from './places.ts';
import { type Device, fixedNet, mobileNet, type Network, type User, vpnNet } from './population.ts';
import type { Random } from './random.ts';
import type { Source, Step } from './steps.ts';

const HOUR = 3_600_000;
const MINUTE = 60_000;
/** gate to gate: cruise speed plus taxi and climb (real flights average 700–850 km/h) */
const FLIGHT_KMH = 800;
const FLIGHT_OVERHEAD_H = 0.5;
/** the chance a user flies somewhere on a given day, unless told otherwise */
export const TRAVEL_PER_DAY = 0.03;

export interface PlanWindow {
  /** UTC epoch ms of the simulation's start (simulated time 0) */
  startUtcMs: number;
  durationMs: number;
}

interface DayContext {
  user: User;
  rnd: Random;
  window: PlanWindow;
  /** UTC ms of this day's local midnight */
  midnightUtc: number;
  /** calls per burst ×, gaps ÷ (1: as people use apps; the demo packs more into its minutes) */
  activity: number;
  steps: Step[];
}

const sourceOf = (device: Device): Source =>
  device.kind === 'laptop' ? 'api-gateway' : device.kind === 'phone' ? 'mobile-bff' : 'orders-api';

/** Calls from one device: `count` of them, gaps exponential around `meanGapMs`, from local hour `fromH`. */
function burst(
  c: DayContext,
  device: Device,
  nets: (i: number) => Network,
  fromH: number,
  count: number,
  meanGapMs: number,
): number {
  let t = c.midnightUtc + fromH * HOUR - c.window.startUtcMs;
  const calls = Math.round(count * c.activity);
  for (let i = 0; i < calls; i++) {
    t += Math.max(2000, c.rnd.exponential(meanGapMs / c.activity));
    if (t < 0 || t >= c.window.durationMs) continue;
    const source = device.kind === 'laptop' || c.rnd.chance(0.8) ? sourceOf(device) : 'orders-api';
    c.steps.push({
      at: Math.round(t),
      subject: c.user.subject,
      kind: 'call',
      device: device.id,
      net: nets(i),
      source,
    });
  }
  return t;
}

/** The laptop's working day: office, home, or home through the VPN (switched on and off). */
function workday(c: DayContext, laptop: Device) {
  const { user, rnd } = c;
  const start = rnd.between(8, 10);
  const atHome = user.remote || rnd.chance(0.15);
  const net = (i: number): Network => {
    if (!atHome) return user.officeNet;
    if (!user.vpn) return user.homeNet;
    return i % 40 < 36 ? vpnNet(rnd) : user.homeNet; // the VPN drops now and then
  };
  const morning = Math.round(rnd.between(3, 4) * 20);
  burst(c, laptop, net, start, morning, 3 * MINUTE);
  burst(c, laptop, net, rnd.between(13, 13.5), Math.round(rnd.between(3, 4.5) * 20), 3 * MINUTE);
  if (rnd.chance(0.2)) burst(c, laptop, () => user.homeNet, rnd.between(20, 22), rnd.int(5, 25), 2 * MINUTE);
}

/** The phone: breakfast at home, mobile data on the way to work, lunch, evening. */
function phoneDay(c: DayContext, phone: Device) {
  const { user, rnd } = c;
  const commuteNet = mobileNet(user.home, rnd);
  // at home on Wi-Fi, then leaving: the same session continues on the carrier network
  const leave = rnd.int(4, 10);
  burst(c, phone, (i) => (i < leave ? user.homeNet : commuteNet), rnd.between(7, 8), rnd.int(8, 16), 90_000);
  burst(
    c,
    phone,
    () => (rnd.chance(0.5) ? mobileNet(user.home, rnd) : user.officeNet),
    12.2,
    rnd.int(3, 10),
    2 * MINUTE,
  );
  burst(c, phone, () => user.homeNet, rnd.between(18, 22), rnd.int(10, 30), 2 * MINUTE);
}

/** The same session on the other side of a flight: airport, flight (nothing), arrival. */
function flight(
  c: DayContext,
  devices: Device[],
  destinations: readonly City[],
  destination = c.rnd.pick(destinations.filter((x) => x !== c.user.home)),
) {
  const { user, rnd } = c;
  const departH = rnd.between(7, 17);
  const hours = distanceKm(user.home, destination) / FLIGHT_KMH + FLIGHT_OVERHEAD_H;
  const phone = devices.find((d) => d.kind === 'phone');
  const laptop = devices.find((d) => d.kind === 'laptop')!;
  const airport = mobileNet(user.home, rnd);
  if (phone !== undefined) burst(c, phone, () => airport, departH - 1, rnd.int(3, 8), 5 * MINUTE);
  burst(c, laptop, () => user.homeNet, departH - 3, rnd.int(3, 8), 4 * MINUTE);
  const landH = departH + hours + rnd.between(0.3, 1);
  const hotel = fixedNet(destination, 'hotel', rnd);
  const roaming = mobileNet(destination, rnd);
  if (phone !== undefined) burst(c, phone, () => roaming, landH, rnd.int(3, 10), 3 * MINUTE);
  burst(c, laptop, () => hotel, landH + rnd.between(1, 3), rnd.int(10, 30), 3 * MINUTE);
  return destination;
}

/** Now and then a device logs out at the end of its evening, a stale tab presenting the old token once. */
function maybeLogout(c: DayContext, device: Device, net: Network) {
  if (!c.rnd.chance(0.04)) return;
  const at = Math.round(c.midnightUtc + c.rnd.between(22.5, 23.5) * HOUR - c.window.startUtcMs);
  if (at < 0 || at >= c.window.durationMs) return;
  c.steps.push({
    at,
    subject: c.user.subject,
    kind: 'logout',
    device: device.id,
    net,
    staleTab: c.rnd.chance(0.3),
  });
}

/** Every benign step of one user in the window (in no particular order). */
export function userPlan(
  user: User,
  rnd: Random,
  window: PlanWindow,
  travelPerDay = TRAVEL_PER_DAY,
  activity = 1,
  /** where flights go (the hard benign cases fly abroad) */
  destinations: readonly City[] = CITIES,
): Step[] {
  const steps: Step[] = [];
  const offset = user.utcOffsetH * HOUR;
  const firstMidnight = Math.floor((window.startUtcMs + offset) / (24 * HOUR)) * 24 * HOUR - offset;
  let away: City | undefined;
  for (
    let midnight = firstMidnight;
    midnight < window.startUtcMs + window.durationMs;
    midnight += 24 * HOUR
  ) {
    const c: DayContext = { user, rnd, window, midnightUtc: midnight, steps, activity };
    const laptop = user.devices[0]!;
    if (away === undefined && rnd.chance(travelPerDay)) {
      away = flight(c, user.devices, destinations); // the rest of the window there: the hotel's evenings only
      continue;
    }
    if (away !== undefined) {
      const hotel = fixedNet(away, 'hotel', rnd);
      burst(c, laptop, () => hotel, rnd.between(19, 21), rnd.int(5, 20), 3 * MINUTE);
      continue;
    }
    const weekday = new Date(midnight + offset + 12 * HOUR).getUTCDay() % 6 !== 0;
    if (weekday) workday(c, laptop);
    else burst(c, laptop, () => user.homeNet, rnd.between(10, 16), rnd.int(10, 40), 4 * MINUTE);
    for (const device of user.devices.slice(1)) {
      if (device.kind === 'phone') phoneDay(c, device);
      else burst(c, device, () => user.homeNet, rnd.between(19, 22), rnd.int(5, 20), 3 * MINUTE);
    }
    for (const device of user.devices) maybeLogout(c, device, user.homeNet);
  }
  return steps;
}

export { HOUR, MINUTE };
