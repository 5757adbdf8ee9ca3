/**
 * The learning history (tools/simulator/history.ts): reproducible from the seed, only the days
 * before the window, one sighting per device, address and hour, every user's own devices (no
 * attacks), the simulation's own plan untouched by it — and a consumer-VPN user's history holds
 * both the home line and the VPN's exits on several days (what familiarity is learned from).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HOSTING_EXITS } from '../../../../tools/simulator/hard-places.ts';
import { buildHistory, type Sighting } from '../../../../tools/simulator/history.ts';
import { buildSimulation, type SimulationOptions } from '../../../../tools/simulator/simulation.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Tuesday 4 March 2025, 00:00 UTC */
const TUESDAY = Date.UTC(2025, 2, 4);
const OPTIONS: SimulationOptions = {
  seed: 'tokenwatch',
  users: 40,
  durationMs: DAY,
  startUtcMs: TUESDAY,
  attacksPerKind: 2,
  tenant: 'acme',
  hardPerKind: 3,
};
const sim = buildSimulation(OPTIONS);
const history = buildHistory(sim, 14);
const digest = (x: unknown) => createHash('sha256').update(JSON.stringify(x)).digest('hex');
const daysOf = (sightings: readonly Sighting[]) => new Set(sightings.map((s) => Math.floor(s.timeMs / DAY)));

describe('learning history', () => {
  it('the same simulation gives the same history; another seed another', () => {
    expect(buildHistory(buildSimulation(OPTIONS), 14)).toStrictEqual(history);
    expect(digest(buildHistory(buildSimulation({ ...OPTIONS, seed: 'other' }), 14))).not.toBe(
      digest(history),
    );
    expect(buildHistory(sim, 0)).toStrictEqual([]);
  });

  it('leaves the simulation’s own plan exactly as it is', () => {
    const untouched = buildSimulation(OPTIONS);
    buildHistory(untouched, 14);
    expect(untouched).toStrictEqual(buildSimulation(OPTIONS));
    // the default simulation's recorded plan (test/unit/tools/simulator/hard-cases.test.ts) holds too
    const plain = buildSimulation({ ...OPTIONS, users: 300, attacksPerKind: 4, hardPerKind: undefined });
    buildHistory(plain, 14);
    expect(
      digest({ users: plain.users, steps: plain.steps, labels: plain.labels, benign: plain.benignSubjects }),
    ).toBe('979bc09c0687694ae48eb108cacd0001553960687efad5cd7e34111f288e6b14');
  });

  it('covers every user on the days before the window only, in time order', () => {
    expect(history.every((s) => s.timeMs >= TUESDAY - 14 * DAY && s.timeMs < TUESDAY)).toBe(true);
    expect(history.map((s) => s.timeMs)).toStrictEqual(history.map((s) => s.timeMs).sort((a, b) => a - b));
    expect(new Set(history.map((s) => s.subject))).toStrictEqual(new Set(sim.users.map((u) => u.subject)));
    expect(daysOf(history).size).toBe(14);
    expect(buildHistory(sim, 3).every((s) => s.timeMs >= TUESDAY - 3 * DAY)).toBe(true);
  });

  it('one sighting per subject, device, address and UTC hour, from the subject’s own devices', () => {
    const keys = history.map((s) => `${s.subject} ${s.deviceId} ${s.ip} ${Math.floor(s.timeMs / HOUR)}`);
    expect(new Set(keys).size).toBe(keys.length);
    const devices = new Map(sim.users.map((u) => [u.subject, new Map(u.devices.map((d) => [d.id, d]))]));
    const foreign = history.filter((s) => devices.get(s.subject)?.get(s.deviceId)?.userAgent !== s.userAgent);
    expect(foreign).toStrictEqual([]);
    expect(history.every((s) => s.tenant === 'acme' && s.ip !== '')).toBe(true);
  });

  it('a consumer-VPN user’s history holds the home line and the VPN’s exits, each on two days or more', () => {
    const vpnUsers = sim.hardCases.filter((l) => l.kind === 'consumer_vpn').map((l) => l.subject);
    expect(vpnUsers.length).toBe(3);
    const exits = new Set(HOSTING_EXITS.map((e) => e.ip));
    for (const subject of vpnUsers) {
      const user = sim.users.find((u) => u.subject === subject)!;
      const mine = history.filter((s) => s.subject === subject);
      expect(daysOf(mine.filter((s) => s.ip === user.homeNet.ip)).size, subject).toBeGreaterThanOrEqual(2);
      expect(daysOf(mine.filter((s) => exits.has(s.ip))).size, subject).toBeGreaterThanOrEqual(2);
    }
  });
});
