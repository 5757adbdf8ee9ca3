/**
 * The simulation's plan (population, benign days, labelled attacks): reproducible from its seed,
 * ordered, inside its window; every label backed by the steps that carry it out; and benign days
 * that look like people — flights at airliner speed, phones moving from Wi-Fi to the carrier,
 * laptops through the VPN, laptops asleep longer than an access token lives.
 */
import { describe, expect, it } from 'vitest';
import { ATTACK_KINDS } from '../../../../tools/simulator/attacks.ts';
import { DETECTORS } from '../../../../tools/simulator/evaluate.ts';
import { ATTACKER_CITIES, CITIES, distanceKm, VPN_EGRESS_IPS } from '../../../../tools/simulator/places.ts';
import {
  buildSimulation,
  type Simulation,
  type SimulationOptions,
} from '../../../../tools/simulator/simulation.ts';
import type { Step } from '../../../../tools/simulator/steps.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** the reference auth server's access token lifetime (AUTH_ACCESS_TTL_SECONDS default) */
const ACCESS_TTL_MS = 15 * MINUTE;
/** Tuesday 4 March 2025, 00:00 UTC */
const TUESDAY = Date.UTC(2025, 2, 4);

const options = (o: Partial<SimulationOptions> = {}): SimulationOptions => ({
  seed: 'unit',
  users: 300,
  durationMs: DAY,
  startUtcMs: TUESDAY,
  attacksPerKind: 4,
  tenant: 'acme',
  ...o,
});

const cityOf = (name: string) => [...CITIES, ...ATTACKER_CITIES].find((c) => c.name === name);
const byAttack = new WeakMap<Simulation, Map<string, Step[]>>();
/** the steps of one attack (of its plan: the victim's moves it makes happen too) */
function attackSteps(sim: Simulation, id: string): Step[] {
  let index = byAttack.get(sim);
  if (index === undefined) {
    index = new Map();
    for (const s of sim.steps) if ('attack' in s) index.set(s.attack, [...(index.get(s.attack) ?? []), s]);
    byAttack.set(sim, index);
  }
  return index.get(id) ?? [];
}
/** the requests an attacker sends (not the victim's own moves the attack makes happen) */
const MALICIOUS = new Set<Step['kind']>(['thief_refresh', 'thief_call', 'forge']);
type Call = Extract<Step, { kind: 'call' }>;
const calls = (sim: Simulation, pred: (s: Call) => boolean) =>
  sim.steps.filter((s): s is Call => s.kind === 'call' && pred(s));
/** each device's calls, in time order */
function callsByDevice(sim: Simulation): Map<string, Call[]> {
  const out = new Map<string, Call[]>();
  for (const s of sim.steps) {
    if (s.kind !== 'call') continue;
    const list = out.get(s.device);
    if (list === undefined) out.set(s.device, [s]);
    else list.push(s);
  }
  return out;
}

describe('buildSimulation', () => {
  const sim = buildSimulation(options());
  // several seeds for properties of attacks (a handful per seed)
  const many = ['a', 'b', 'c', 'd', 'e'].map((seed) => buildSimulation(options({ seed, attacksPerKind: 8 })));

  it('is deterministic: the same options give the same simulation, another seed another', () => {
    expect(buildSimulation(options())).toStrictEqual(sim);
    const other = buildSimulation(options({ seed: 'unit-2' }));
    expect(other.steps).not.toStrictEqual(sim.steps);
    expect(other.labels).not.toStrictEqual(sim.labels);
    // user i is the same person however many there are
    expect(buildSimulation(options({ users: 40 })).users).toStrictEqual(sim.users.slice(0, 40));
  });

  it('steps are sorted by time, inside [0, duration), of known users and devices', () => {
    expect(sim.steps.length).toBeGreaterThan(10_000);
    const devices = new Set(sim.users.flatMap((u) => u.devices.map((d) => d.id)));
    const subjects = new Set(sim.users.map((u) => u.subject));
    expect(sim.steps.filter((s, i) => i > 0 && s.at < sim.steps[i - 1]!.at)).toStrictEqual([]);
    expect(sim.steps.filter((s) => !(s.at >= 0 && s.at < DAY) || !Number.isInteger(s.at))).toStrictEqual([]);
    expect(sim.steps.filter((s) => !subjects.has(s.subject))).toStrictEqual([]);
    const owned = (s: Step) =>
      !(s.kind === 'call' || s.kind === 'refresh' || s.kind === 'logout' || s.kind === 'steal') ||
      (devices.has(s.device) && s.device.startsWith(`${s.subject}-`));
    expect(sim.steps.filter((s) => !owned(s))).toStrictEqual([]);
  });

  it('each attack kind gets attacksPerKind attacks, each on its own victim, who is not a benign subject', () => {
    for (const s of [sim, ...many]) {
      const perKind = s.options.attacksPerKind;
      for (const kind of ATTACK_KINDS)
        expect(s.labels.filter((l) => l.kind === kind).length, kind).toBe(perKind);
      const victims = s.labels.map((l) => l.subject);
      expect(new Set(victims).size).toBe(victims.length);
      expect(s.benignSubjects.filter((b) => victims.includes(b))).toStrictEqual([]);
      expect([...s.benignSubjects, ...victims].sort()).toStrictEqual(s.users.map((u) => u.subject).sort());
      expect(new Set(s.labels.map((l) => l.id)).size).toBe(s.labels.length);
    }
    expect(
      buildSimulation(options({ kinds: ['alg_none'], attacksPerKind: 3 })).labels.map((l) => l.kind),
    ).toStrictEqual(['alg_none', 'alg_none', 'alg_none']);
  });

  it('every label is carried out by steps of its attack: its first and last malicious requests, its addresses', () => {
    for (const s of [sim, ...many])
      for (const l of s.labels) {
        const steps = attackSteps(s, l.id);
        const what = `${l.id} ${l.description}`;
        expect(l.tenant).toBe('acme');
        expect(l.expected.length, what).toBeGreaterThan(0);
        for (const d of l.expected) expect(DETECTORS, what).toContain(d);
        expect(l.startAt, what).toBeLessThanOrEqual(l.endAt);
        expect(steps.every((x) => x.subject === l.subject)).toBe(true);
        const kinds = new Set(steps.map((x) => x.kind));
        if (l.kind === 'alg_none' || l.kind === 'bad_signature_flood') {
          expect([...kinds], what).toStrictEqual(['forge']);
          const forgery = l.kind === 'alg_none' ? 'alg_none' : 'bad_signature';
          expect(
            steps.every((x) => x.kind === 'forge' && x.forgery === forgery),
            what,
          ).toBe(true);
        } else expect(kinds.has('steal'), what).toBe(true);
        if (l.kind === 'refresh_replay') expect(kinds.has('thief_refresh'), what).toBe(true);
        const malicious = steps.filter((x) => MALICIOUS.has(x.kind));
        expect(malicious.length, what).toBeGreaterThan(0);
        expect(l.startAt, what).toBe(Math.min(...malicious.map((x) => x.at)));
        expect(l.endAt, `${what}: ends before its last malicious request`).toBeGreaterThanOrEqual(
          Math.max(...malicious.map((x) => x.at)),
        );
        expect([...new Set(malicious.map((x) => x.net.ip))], what).toStrictEqual(l.ips);
      }
  });

  it("attackers work from far away (over 1,500 km from the victim's home); a cloned device from another city", () => {
    for (const s of [sim, ...many])
      for (const l of s.labels) {
        const home = s.users.find((u) => u.subject === l.subject)!.home;
        const malicious = attackSteps(s, l.id).filter((x) => MALICIOUS.has(x.kind));
        for (const x of malicious) {
          const where = cityOf(x.net.city)!;
          if (l.kind === 'access_clone') {
            expect(where.name, l.id).not.toBe(home.name);
            if (CITIES.some((c) => c.country === home.country && c !== home))
              expect(where.country, l.id).toBe(home.country);
          } else {
            expect(ATTACKER_CITIES, l.id).toContain(where);
            expect(distanceKm(where, home), l.id).toBeGreaterThan(1500);
          }
        }
      }
  });

  it('a stolen access token is used only while it lives (15 minutes from the theft); a revoked one only after the logout', () => {
    let checked = 0;
    for (const s of [sim, ...many])
      for (const l of s.labels) {
        if (l.kind === 'refresh_replay' || l.kind === 'alg_none' || l.kind === 'bad_signature_flood')
          continue;
        const steps = attackSteps(s, l.id);
        const steal = steps.find((x) => x.kind === 'steal')!;
        const used = steps.filter((x) => x.kind === 'thief_call');
        const late = used.filter((x) => x.at - steal.at >= ACCESS_TTL_MS - 30_000);
        expect(
          late.map((x) => `${l.id}: ${((x.at - steal.at) / MINUTE).toFixed(1)} min after the theft`),
        ).toStrictEqual([]);
        if (l.kind === 'revoked_token') {
          const logout = s.steps.find(
            (x) => x.kind === 'logout' && x.subject === l.subject && x.at > steal.at,
          )!;
          expect(logout, l.id).toBeDefined();
          expect(used.every((x) => x.at > logout.at)).toBe(true);
        }
        checked++;
      }
    expect(checked).toBe(3 * (4 + 5 * 8)); // three kinds, 4 attacks each in `sim`, 8 in each of five more
  });
});

describe('benign days', () => {
  it('flights: the same devices at the destination, no faster than an airliner (under 1,000 km/h)', () => {
    // two days from a Tuesday, everybody flies on the first of them
    const sim = buildSimulation(
      options({ users: 200, durationMs: 2 * DAY, travelPerDay: 1, attacksPerKind: 0 }),
    );
    let flights = 0;
    for (const user of sim.users) {
      const mine = sim.steps.filter((s) => s.subject === user.subject && 'net' in s);
      const i = mine.findIndex((s) => s.net.city !== user.home.name && s.net.kind !== 'vpn');
      if (i < 0) continue;
      const destination = cityOf(mine[i]!.net.city)!;
      expect(destination, mine[i]!.net.city).toBeDefined();
      const lastHome = mine.slice(0, i).findLast((s) => s.net.city === user.home.name);
      // once there, they stay there (hotel and roaming) for the rest of the window
      expect(mine.slice(i).filter((s) => s.net.city !== destination.name)).toStrictEqual([]);
      expect(new Set(mine.slice(i).map((s) => s.net.kind))).not.toContain('home');
      if (lastHome === undefined) continue;
      flights++;
      const hours = (mine[i]!.at - lastHome.at) / HOUR;
      const kmh = distanceKm(user.home, destination) / hours;
      expect(
        kmh,
        `${user.subject} ${user.home.name} → ${destination.name} in ${hours.toFixed(1)} h`,
      ).toBeLessThan(1000);
    }
    expect(flights).toBeGreaterThan(100);
    // by default, flying is rare
    const usual = buildSimulation(options({ users: 200, durationMs: 2 * DAY, attacksPerKind: 0 }));
    const away = new Set(calls(usual, (s) => s.net.kind === 'hotel').map((s) => s.subject));
    expect(away.size).toBeLessThan(30);
  });

  it('phones: at home on Wi-Fi and on the carrier network the same day, switching within a session', () => {
    const sim = buildSimulation(options({ users: 200, attacksPerKind: 0, travelPerDay: 0 }));
    const phones = sim.users.flatMap((u) => u.devices.filter((d) => d.kind === 'phone'));
    expect(phones.length).toBeGreaterThan(150);
    const byDevice = callsByDevice(sim);
    let both = 0;
    let switched = 0;
    for (const phone of phones) {
      const mine = byDevice.get(phone.id) ?? [];
      const kinds = new Set(mine.map((s) => s.net.kind));
      if (kinds.has('home') && kinds.has('mobile')) both++;
      if (
        mine.some(
          (s, i) =>
            i > 0 &&
            s.net.kind === 'mobile' &&
            mine[i - 1]!.net.kind === 'home' &&
            s.at - mine[i - 1]!.at < 10 * MINUTE,
        )
      )
        switched++;
    }
    expect(both / phones.length).toBeGreaterThan(0.95);
    expect(switched / phones.length).toBeGreaterThan(0.7);
    // laptops never go out on the carrier network
    expect(calls(sim, (s) => s.device.endsWith('-laptop') && s.net.kind === 'mobile')).toStrictEqual([]);
  });

  it("VPN users' laptops go through the VPN's egress; nobody else's does", () => {
    const sim = buildSimulation(options({ users: 300, attacksPerKind: 0, travelPerDay: 0 }));
    const vpnIps = new Set(VPN_EGRESS_IPS);
    const remoteVpn = sim.users.filter((u) => u.vpn && u.remote);
    expect(remoteVpn.length).toBeGreaterThan(5);
    const byDevice = callsByDevice(sim);
    for (const u of remoteVpn) {
      const laptop = byDevice.get(`${u.subject}-laptop`) ?? [];
      if (laptop.length === 0) continue;
      const through = laptop.filter((s) => vpnIps.has(s.net.ip));
      expect(through.length / laptop.length, u.subject).toBeGreaterThan(0.75);
      expect(through.every((s) => s.net.kind === 'vpn')).toBe(true);
    }
    const others = new Set(sim.users.filter((u) => !u.vpn).map((u) => u.subject));
    expect(calls(sim, (s) => others.has(s.subject) && vpnIps.has(s.net.ip))).toStrictEqual([]);
    expect(calls(sim, (s) => !s.device.endsWith('-laptop') && vpnIps.has(s.net.ip))).toStrictEqual([]);
  });

  it('laptops sleep longer than an access token lives (15 minutes): they wake up with a stale token', () => {
    const sim = buildSimulation(options({ users: 200, attacksPerKind: 0, travelPerDay: 0 }));
    const byDevice = callsByDevice(sim);
    let active = 0;
    let gaps = 0;
    for (const u of sim.users) {
      const at = (byDevice.get(`${u.subject}-laptop`) ?? []).map((s) => s.at);
      if (at.length < 10) continue;
      active++;
      if (at.some((t, i) => i > 0 && t - at[i - 1]! > ACCESS_TTL_MS)) gaps++;
    }
    expect(active).toBeGreaterThan(100);
    expect(gaps / active).toBeGreaterThan(0.9);
  });
});
