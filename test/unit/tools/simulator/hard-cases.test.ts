/**
 * The hard benign cases (tools/simulator/hard-cases.ts): reproducible from the seed, each case really
 * generated in a small population (the network switch that makes it hard is in its steps), their
 * users never attacked and labelled with their kind — and the default simulation exactly the plan it
 * was before they existed (the default eval's figures stay comparable).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HARD_CASE_KINDS, type HardCaseKind, planHardCases } from '../../../../tools/simulator/hard-cases.ts';
import { INFLIGHT_EXITS, MISPLACED_LINES } from '../../../../tools/simulator/hard-places.ts';
import { distanceKm } from '../../../../tools/simulator/places.ts';
import type { Network, User } from '../../../../tools/simulator/population.ts';
import { Random } from '../../../../tools/simulator/random.ts';
import { buildSimulation, type SimulationOptions } from '../../../../tools/simulator/simulation.ts';
import type { Step } from '../../../../tools/simulator/steps.ts';

const DAY = 86_400_000;
/** Tuesday 4 March 2025, 00:00 UTC */
const TUESDAY = Date.UTC(2025, 2, 4);
const WINDOW = { startUtcMs: TUESDAY, durationMs: DAY };
const PER_KIND = 4;

const plan = (seed: string) => planHardCases(PER_KIND, new Random(seed).fork('hard'), WINDOW);
const hard = plan('unit');
const userOf = (subject: string) => hard.users.find((u) => u.subject === subject)!;
const calls = (subject: string) =>
  hard.steps
    .filter((s): s is Extract<Step, { kind: 'call' }> => s.kind === 'call' && s.subject === subject)
    .sort((a, b) => a.at - b.at);
const subjectsOf = (kind: HardCaseKind) => hard.labels.filter((l) => l.kind === kind).map((l) => l.subject);
const laptop = (u: User) => u.devices[0]!.id;
const phone = (u: User) => u.devices.find((d) => d.kind === 'phone')!.id;

/** Whether some subject of `kind` shows the case (at least one must). */
function somebody(kind: HardCaseKind, shows: (u: User, cs: ReturnType<typeof calls>) => boolean) {
  return subjectsOf(kind).some((s) => shows(userOf(s), calls(s)));
}

describe('hard benign cases', () => {
  it('the same seed gives the same users, steps and labels; another seed others', () => {
    expect(plan('unit')).toStrictEqual(hard);
    expect(plan('other').steps).not.toStrictEqual(hard.steps);
  });

  it('labels every subject with its kind, each kind with its own users and steps', () => {
    expect(hard.labels.map((l) => l.kind)).toStrictEqual(
      HARD_CASE_KINDS.flatMap((k) => Array(PER_KIND).fill(k)),
    );
    expect(new Set(hard.users.map((u) => u.subject)).size).toBe(HARD_CASE_KINDS.length * PER_KIND);
    for (const l of hard.labels) {
      expect(l.subject).toMatch(new RegExp(`^hard-${l.kind.replaceAll('_', '-')}-\\d{5}$`));
      expect(l.description).not.toBe('');
      expect(calls(l.subject).length, l.subject).toBeGreaterThan(0);
    }
    expect(hard.steps.every((s) => s.at >= 0 && s.at < DAY)).toBe(true);
  });

  it('consumer VPN: the same laptop on and off a hosting exit in another country', () => {
    expect(
      somebody('consumer_vpn', (u, cs) => {
        const mine = cs.filter((c) => c.device === laptop(u));
        const vpn = mine.filter((c) => c.net.kind === 'consumer_vpn');
        return (
          vpn.length > 0 && vpn.every((c) => c.net.country !== u.home.country) && vpn.length < mine.length
        );
      }),
    ).toBe(true);
  });

  it('Private Relay: the phone egresses in its region, from more than one address', () => {
    expect(
      somebody('private_relay', (u, cs) => {
        const relay = cs.filter((c) => c.device === phone(u) && c.net.kind === 'relay');
        return (
          relay.length === cs.filter((c) => c.device === phone(u)).length &&
          new Set(relay.map((c) => c.net.ip)).size > 1
        );
      }),
    ).toBe(true);
  });

  it('cloud proxy: the laptop egresses 3,000 km or more from home while the phone is at home', () => {
    expect(
      somebody(
        'cloud_proxy',
        (u, cs) =>
          cs.some((c) => c.device === laptop(u) && c.net.kind === 'cloud_proxy') &&
          cs.some((c) => c.device === phone(u) && c.net.city === u.home.name),
      ),
    ).toBe(true);
  });

  it('roaming SIM: after landing abroad, the phone’s carrier egress is at home while the laptop is at a hotel', () => {
    expect(
      somebody('roaming_sim', (u, cs) => {
        const left = Math.max(...cs.filter((c) => c.net.ip === u.homeNet.ip).map((c) => c.at));
        const hotel = cs.filter((c) => c.net.kind === 'hotel' && c.net.country !== u.home.country);
        return cs.some(
          (p) =>
            p.device === phone(u) &&
            p.at > left &&
            p.net.kind === 'mobile' &&
            p.net.city === u.home.name &&
            hotel.some((h) => Math.abs(h.at - p.at) < 4 * 3_600_000),
        );
      }),
    ).toBe(true);
    for (const s of subjectsOf('roaming_sim'))
      expect(
        calls(s).filter((c) => c.net.kind === 'mobile' && c.net.city !== userOf(s).home.name),
      ).toStrictEqual([]);
  });

  it('in-flight Wi-Fi: the laptop calls during the flight from the provider’s exits on different continents', () => {
    const exitOf = (c: { net: Network }) => INFLIGHT_EXITS.find((e) => e.ip === c.net.ip)!;
    const air = hard.steps.filter((s) => 'net' in s && s.net.kind === 'inflight');
    expect(air.length).toBeGreaterThan(0);
    expect(air.filter((s) => 'net' in s && exitOf(s) === undefined)).toStrictEqual([]);
    expect(
      somebody('inflight_wifi', (u, cs) => {
        const air = cs.filter((c) => c.net.kind === 'inflight');
        return (
          air.every((c) => c.device === laptop(u)) &&
          air.some((a) => air.some((b) => distanceKm(exitOf(a), exitOf(b)) > 3000))
        );
      }),
    ).toBe(true);
  });

  it('DPoP-bound: every device bound to its own key, toggling a consumer VPN; nobody else bound', () => {
    for (const s of subjectsOf('dpop_bound'))
      expect(userOf(s).devices.every((d) => d.dpop === true)).toBe(true);
    expect(
      somebody(
        'dpop_bound',
        (_u, cs) =>
          cs.some((c) => c.net.kind === 'consumer_vpn') && cs.some((c) => c.net.kind !== 'consumer_vpn'),
      ),
    ).toBe(true);
    const bound = hard.users.filter((u) => u.devices.some((d) => d.dpop === true)).map((u) => u.subject);
    expect(bound).toStrictEqual(subjectsOf('dpop_bound'));
  });

  it('mis-geolocated: the home line is in the user’s city, on a range geoip places 3,000 km or more away', () => {
    for (const s of subjectsOf('misgeolocated')) {
      const u = userOf(s);
      const line = MISPLACED_LINES.find((l) => l.ip === u.homeNet.ip);
      expect(line, s).toBeDefined();
      expect(u.homeNet.city).toBe(u.home.name);
      expect(distanceKm(u.home, line!)).toBeGreaterThanOrEqual(3000);
    }
    expect(somebody('misgeolocated', (u, cs) => cs.some((c) => c.net.ip === u.homeNet.ip))).toBe(true);
  });
});

describe('the simulation with and without the hard cases', () => {
  const options: SimulationOptions = {
    seed: 'tokenwatch',
    users: 300,
    durationMs: DAY,
    startUtcMs: TUESDAY,
    attacksPerKind: 4,
    tenant: 'acme',
  };
  const digest = (o: SimulationOptions) => {
    const sim = buildSimulation(o);
    return createHash('sha256')
      .update(
        JSON.stringify({
          users: sim.users,
          steps: sim.steps,
          labels: sim.labels,
          benign: sim.benignSubjects,
        }),
      )
      .digest('hex');
  };

  it('without them, the plan is exactly the one from before they existed (the default eval unchanged)', () => {
    // recorded from the simulator before the hard cases were added
    expect(digest(options)).toBe('979bc09c0687694ae48eb108cacd0001553960687efad5cd7e34111f288e6b14');
    expect(buildSimulation(options).hardCases).toStrictEqual([]);
  });

  it('with them, the same attacks and benign subjects, plus the hard users, never attacked', () => {
    const plain = buildSimulation(options);
    const withHard = buildSimulation({ ...options, hardPerKind: 2 });
    expect(withHard.labels).toStrictEqual(plain.labels);
    expect(withHard.benignSubjects).toStrictEqual(plain.benignSubjects);
    expect(withHard.hardCases.map((l) => l.kind)).toStrictEqual(HARD_CASE_KINDS.flatMap((k) => [k, k]));
    const hardSubjects = new Set(withHard.hardCases.map((l) => l.subject));
    expect(withHard.labels.filter((l) => hardSubjects.has(l.subject))).toStrictEqual([]);
    expect(withHard.steps.filter((s) => !hardSubjects.has(s.subject))).toStrictEqual(plain.steps);
    expect(withHard.users.length).toBe(plain.users.length + hardSubjects.size);
    expect(buildSimulation({ ...options, hardPerKind: 2 })).toStrictEqual(withHard);
  });
});
