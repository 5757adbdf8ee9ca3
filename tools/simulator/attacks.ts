/**
 * Attacks mixed into the benign traffic, each with its ground-truth label: which user, when, from
 * where, and which detectors should report it.
 *
 * - refresh_replay: an infostealer copies a laptop's refresh token; the thief presents it from
 *   another country, before or after the victim's own next refresh (either way one of the two
 *   presents a token that was already rotated).
 * - access_clone: an access token copied to a second device (its own device id) in another city.
 * - xss_parallel: a script in the victim's page sends the access token to the attacker's server,
 *   which uses it from abroad while the victim keeps working.
 * - alg_none: unsigned forgeries (`alg: none`) claiming the victim.
 * - bad_signature_flood: forged signatures, dozens a minute, from one address.
 * - revoked_token: the victim logs out (revoking the token); the attacker's copy is still presented.
 */
import { ATTACKER_CITIES, CITIES, type City, distanceKm, sameBlock } from './places.ts';
import { mobileNet, type Network, network, type User } from './population.ts';
import type { Random } from './random.ts';
import type { AttackKind, AttackLabel, Step } from './steps.ts';

export const ATTACK_KINDS: readonly AttackKind[] = [
  'refresh_replay',
  'access_clone',
  'xss_parallel',
  'alg_none',
  'bad_signature_flood',
  'revoked_token',
];

const MINUTES = 60_000;
const SCRIPT_UA = 'python-requests/2.32.3';
const CLONE_UA = 'ShopApp/5.12 (Linux; Android 14; SM-A546B)';

export interface AttackPlan {
  steps: Step[];
  labels: AttackLabel[];
}

export interface Anchor {
  user: User;
  device: string;
  net: Network;
  at: number;
}

/** A moment a victim's device is in use, well inside the window (so the attack and its detection fit). */
function findAnchor(
  user: User,
  steps: Step[],
  rnd: Random,
  durationMs: number,
  kind: AttackKind,
): Anchor | undefined {
  const wantLaptop = kind !== 'access_clone' || rnd.chance(0.5);
  const calls = steps.filter(
    (s): s is Extract<Step, { kind: 'call' }> =>
      s.kind === 'call' &&
      s.at > 10 * MINUTES &&
      s.at < durationMs - 90 * MINUTES &&
      s.device.endsWith(wantLaptop ? '-laptop' : '-phone'),
  );
  if (calls.length === 0) return undefined;
  const s = rnd.pick(calls);
  return { user, device: s.device, net: s.net, at: s.at };
}

/** An attacker's address far (> 1,500 km) from the victim's home, unique to this attack. */
function attackerNet(home: City, index: number, rnd: Random): Network {
  const far = ATTACKER_CITIES.filter((c) => distanceKm(c, home) > 1500);
  const city = rnd.pick(far.length > 0 ? far : ATTACKER_CITIES);
  return network(city, 'attacker', sameBlock(rnd.pick(city.fixed), 2 + (index % 250)));
}

/** Another city of the victim's country (or the nearest foreign one): where a cloned device is. */
function elsewhere(home: City, rnd: Random): City {
  const domestic = CITIES.filter((c) => c.country === home.country && c !== home);
  if (domestic.length > 0) return rnd.pick(domestic);
  return [...CITIES].filter((c) => c !== home).sort((a, b) => distanceKm(a, home) - distanceKm(b, home))[0]!;
}

/**
 * One attack on the user of `a`, starting 30 s after it. `tempo` scales the waits between its
 * moves (1: as attackers take their time; the demo plays them faster so they land within minutes).
 */
export function planAttack(
  kind: AttackKind,
  id: string,
  index: number,
  a: Anchor,
  rnd: Random,
  tempo = 1,
): AttackPlan {
  const MINUTE = 60_000 * tempo;
  const { user } = a;
  const subject = user.subject;
  const steps: Step[] = [];
  const thief = attackerNet(user.home, index, rnd);
  const t0 = a.at + 30_000;
  /** The plan: the steps pushed so far and this attack's label. */
  const done = (
    startAt: number,
    endAt: number,
    ips: string[],
    expected: string[],
    description: string,
  ): AttackPlan => ({
    steps,
    labels: [{ id, kind, tenant: '', subject, startAt, endAt, ips, expected, description }],
  });
  const thiefCalls = (
    from: number,
    count: number,
    gapMs: number,
    net: Network,
    device: string,
    userAgent: string,
  ) => {
    let t = from;
    let last = Math.round(from);
    for (let i = 0; i < count; i++) {
      last = Math.round(t);
      steps.push({
        at: last,
        subject,
        kind: 'thief_call',
        attack: id,
        net,
        device,
        userAgent,
        source: 'orders-api',
      });
      t += gapMs * rnd.between(0.7, 1.3);
    }
    return last; // the last call's time (t - gapMs could be up to 0.3 gaps before it)
  };
  const forge = (at: number, forgery: 'alg_none' | 'bad_signature', count: number) =>
    steps.push({
      at,
      subject,
      kind: 'forge',
      attack: id,
      net: thief,
      forgery,
      count,
      userAgent: SCRIPT_UA,
      source: 'api-gateway',
    });
  const steal = (fresh: boolean) =>
    steps.push({ at: t0, subject, kind: 'steal', device: a.device, net: a.net, attack: id, fresh });

  switch (kind) {
    case 'refresh_replay': {
      steal(false);
      const thiefFirst = rnd.chance(0.5);
      const replayAt = Math.round(t0 + (thiefFirst ? rnd.between(2, 20) : rnd.between(10, 60)) * MINUTE);
      const victimAt = Math.round(
        thiefFirst ? replayAt + rnd.between(1, 30) * MINUTE : t0 + rnd.between(1, 5) * MINUTE,
      );
      steps.push({ at: victimAt, subject, kind: 'refresh', device: a.device, net: a.net });
      steps.push({
        at: replayAt,
        subject,
        kind: 'thief_refresh',
        attack: id,
        net: thief,
        device: `${id}-thief`,
        userAgent: SCRIPT_UA,
      });
      const lastCall = thiefCalls(replayAt + 5000, rnd.int(3, 6), 10_000, thief, `${id}-thief`, SCRIPT_UA);
      const end = Math.max(lastCall, victimAt);
      return done(
        replayAt,
        end,
        [thief.ip],
        ['refresh_replay'],
        `${subject}'s refresh token replayed from ${thief.city} (${thiefFirst ? 'before' : 'after'} the victim's own refresh)`,
      );
    }
    case 'access_clone': {
      steal(true);
      const city = elsewhere(user.home, rnd);
      const net = rnd.chance(0.5)
        ? mobileNet(city, rnd)
        : network(city, 'attacker', sameBlock(rnd.pick(city.fixed), 2 + (index % 250)));
      const start = Math.round(t0 + rnd.between(1, 3) * MINUTE);
      const end = thiefCalls(start, rnd.int(4, 10), 40_000, net, `${id}-clone`, CLONE_UA);
      return done(
        start,
        end,
        [net.ip],
        ['device_reuse'],
        `${subject}'s access token cloned to a second device in ${city.name}`,
      );
    }
    case 'xss_parallel': {
      steal(true);
      const start = t0 + 20_000;
      const end = thiefCalls(
        start,
        rnd.int(10, 30),
        10_000,
        thief,
        '',
        a.device.endsWith('-laptop') ? user.devices[0]!.userAgent : SCRIPT_UA,
      );
      for (let t = start + 15_000; t < end; t += 30_000)
        steps.push({ at: t, subject, kind: 'call', device: a.device, net: a.net, source: 'api-gateway' });
      return done(
        start,
        end,
        [thief.ip],
        ['impossible_travel'],
        `${subject}'s access token stolen by XSS and used in parallel from ${thief.city}`,
      );
    }
    case 'alg_none': {
      const count = rnd.int(1, 4);
      forge(t0, 'alg_none', count);
      return done(
        t0,
        t0,
        [thief.ip],
        ['verification_anomaly'],
        `${count} unsigned (alg none) tokens claiming ${subject} from ${thief.city}`,
      );
    }
    case 'bad_signature_flood': {
      let total = 0;
      let t = t0;
      const rounds = rnd.int(3, 6);
      for (let i = 0; i < rounds; i++, t += 15_000) {
        const count = rnd.int(10, 25);
        total += count;
        forge(t, 'bad_signature', count);
      }
      return done(
        t0,
        t - 15_000,
        [thief.ip],
        ['verification_anomaly'],
        `${total} tokens with forged signatures claiming ${subject} from ${thief.city} within ${rounds * 15} s`,
      );
    }
    case 'revoked_token': {
      steal(true);
      // Within the stolen token's 15 minutes (at most 6 + 4 + 5 × 39 s = 13.3): past them the
      // verifier refuses it as expired, not revoked.
      const logoutAt = Math.round(t0 + rnd.between(2, 6) * MINUTE);
      steps.push({ at: logoutAt, subject, kind: 'logout', device: a.device, net: a.net, staleTab: false });
      const start = Math.round(logoutAt + rnd.between(1, 4) * MINUTE);
      const end = thiefCalls(start, rnd.int(3, 6), 30_000, thief, '', SCRIPT_UA);
      return done(
        start,
        end,
        [thief.ip],
        ['verification_anomaly'],
        `${subject} logged out; the stolen access token still presented from ${thief.city}`,
      );
    }
  }
}

/**
 * `perKind` attacks of each kind, each on a different victim (chosen by the seed), at a moment
 * the victim is active. `benign` is each user's own steps.
 */
export function planAttacks(
  users: User[],
  benign: Map<string, Step[]>,
  rnd: Random,
  durationMs: number,
  perKind: number,
  tenant: string,
  kinds: readonly AttackKind[] = ATTACK_KINDS,
): AttackPlan {
  const out: AttackPlan = { steps: [], labels: [] };
  const victims = new Set<string>();
  let index = 0;
  for (const kind of kinds) {
    for (let k = 0, tries = 0; k < perKind && tries < perKind * 50; tries++) {
      const user = rnd.pick(users);
      if (victims.has(user.subject)) continue;
      const anchor = findAnchor(user, benign.get(user.subject) ?? [], rnd, durationMs, kind);
      if (anchor === undefined) continue;
      victims.add(user.subject);
      index++;
      const id = `A${String(index).padStart(3, '0')}-${kind}`;
      const p = planAttack(kind, id, index, anchor, rnd);
      out.steps.push(...p.steps);
      out.labels.push(...p.labels.map((l) => ({ ...l, tenant })));
      k++;
    }
  }
  return out;
}
