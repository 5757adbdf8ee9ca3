/**
 * impossible_travel: the same jti, session or family seen from places no one could travel between
 * in the time between: great-circle distance minus both accuracy radii, over the elapsed time,
 * above the max speed (and at least the minimum distance). Allowlisted networks (VPN egress,
 * corporate proxies), private/reserved addresses and addresses without geo are skipped, not guessed,
 * and so are verifications whose claims were never verified (a forgery says nothing; see trust.ts) and
 * refreshes presented with a wrong secret (the sender did not hold the token).
 *
 * Each token, session and family keeps its last few places (the latest sighting at each), and an
 * event is compared with every one of them, not only with the latest to arrive: whether some pair of
 * sightings is impossible does not depend on the order reports arrive in (a late report is compared
 * with what came before and after it), and a rough location in between (a carrier address with a
 * wide radius) cannot make a direct jump look possible.
 *
 * Sender-constrained tokens (DPoP, mTLS): two sightings proved by the same key are one client that
 * moved its network (a VPN switched on, a proxy) — the key does not leave the client as a copied
 * token does. Such a pair alone is reported as an alert (medium, alert_only), never a revocation;
 * so is a pair with one end on a hosting or anonymizer network and the same device and user agent
 * at both (an anonymizer hop). A pair of two places or networks familiar to the subject (used on
 * other days of the learning period: familiar.ts) is no evidence at all, and satellite links
 * (placed at their ground station) are no place.
 */

import { Type } from '@sinclair/typebox';
import { distanceKm, isTelling } from '../platform/net/network.ts';
import { defineDetector, type ThresholdsOf } from './descriptor.ts';
import { dayOf, EGRESS_KINDS, forget, isFamiliar, learn, networkKey, placeKey } from './familiar.ts';
import { finding, firstInWindow, fromEvent } from './finding.ts';
import {
  familyOf,
  type KeyedState,
  type Places,
  placesList,
  type Sighting,
  sessionOf,
  sightingOf,
  tokenOf,
} from './state.ts';
import { heldToken } from './trust.ts';
import type { Action, DetectorEvent, Finding } from './types.ts';

export const IMPOSSIBLE_TRAVEL_THRESHOLDS = {
  maxSpeedKmh: Type.Integer({
    minimum: 1,
    default: 1000,
    description: 'faster than this (km/h), after subtracting both accuracy radii, is impossible',
  }),
  minDistanceKm: Type.Integer({
    minimum: 0,
    default: 300,
    description: 'places closer than this (km, after the radii) are never reported',
  }),
};
type Cfg = ThresholdsOf<typeof IMPOSSIBLE_TRAVEL_THRESHOLDS>;

type Scope = 'jti' | 'session' | 'family';

const ACTION: Record<Scope, Action> = {
  jti: 'revoke_jti',
  family: 'revoke_family',
  session: 'alert_only',
};

/** Whether an event says where the client was: a public, non-allowlisted address with a location. */
export function hasPlace(e: DetectorEvent, cfg: Cfg): boolean {
  if (e.geo_radius_km === 0 && e.lat === 0 && e.lon === 0) return false;
  // a satellite link is placed at its ground station, anywhere under the satellite's footprint
  if (e.network_kind === 'satellite') return false;
  return isTelling(e.ip, cfg.allowlist);
}

/** Places remembered per token, session or family (the latest sighting at each). */
const MAX_PLACES = 4;

/** The records whose places this event is compared with (and then joins). */
function holders(k: KeyedState, e: DetectorEvent, cfg: Cfg) {
  const list: [Scope, string, { place: Places }][] = [];
  if (e.jti !== '') list.push(['jti', e.jti, tokenOf(k.subject, e.jti, e, cfg.tokenLifetimeS)]);
  if (e.session_id !== '') list.push(['session', e.session_id, sessionOf(k.subject, e.session_id, e)]);
  if (e.family_id !== '') list.push(['family', e.family_id, familyOf(k.subject, e.family_id, e)]);
  return list;
}

/**
 * Why a pair of sightings too far apart for the time between may still be one client:
 * - `bound_key`: both proved by the same key (DPoP, mTLS) — the key never leaves the client;
 * - `anonymizer_hop`: one end on a hosting or anonymizer network (a VPN switched on or off, a
 *   proxy, Private Relay) with the same device id and user agent at both ends;
 * - `copy`: neither — two clients, the token copied.
 */
type PairKind = 'copy' | 'bound_key' | 'anonymizer_hop';

function pairKind(a: Sighting, b: Sighting): PairKind {
  if (a.proof_key !== '' && a.proof_key === b.proof_key) return 'bound_key';
  const egress = EGRESS_KINDS.has(a.place.network_kind) || EGRESS_KINDS.has(b.place.network_kind);
  if (egress && a.device_id !== '' && a.device_id === b.device_id && a.user_agent === b.user_agent)
    return 'anonymizer_hop';
  return 'copy';
}

const KIND_TEXT: Record<PairKind, string> = {
  copy: 'used from places too far apart',
  bound_key: 'moved network with its bound key',
  anonymizer_hop: 'hopped onto an anonymizer network (same device and user agent)',
};

/** The familiarity keys of a sighting's address: its place and (for an egress network) its network (familiar.ts). */
function familiarKeys(s: Sighting): [place: number, network: number] {
  const { place } = s;
  return [placeKey(place.lat5 / 1e5, place.lon5 / 1e5), networkKey(place.asn, place.network_kind)];
}

/** Whether a sighting's place or network is familiar to the subject. */
function familiarTo(subject: KeyedState['subject'], s: Sighting, cfg: Cfg): boolean {
  const day = dayOf(s.time_ms);
  return familiarKeys(s).some((key) => isFamiliar(subject, key, day, cfg));
}

/** Whether the event is a use that worked: what familiarity is learned from. */
const worked = (e: DetectorEvent) =>
  (e.type === 'verification' && e.outcome === 'accepted') ||
  (e.type === 'refresh' && e.outcome === 'rotated');

export function detectImpossibleTravel(k: KeyedState, e: DetectorEvent, cfg: Cfg): Finding[] {
  if (!hasPlace(e, cfg) || !heldToken(e)) return [];
  const found: Finding[] = [];
  const here = sightingOf(e);
  let hereFamiliar: boolean | undefined;
  let copied = false;
  let twoDevices = false;
  let again = false;
  for (const [kind, id, holder] of holders(k, e, cfg)) {
    const kept = placesList(holder.place);
    if (kept.some((s) => s.sameEvent(here))) {
      again = true; // delivered again: judged (and learned from, or not) the first time
      continue;
    }
    holder.place = withPlace(kept, here);
    type Pair = { prev: Sighting; rawKm: number; km: number; hours: number; speed: number; kind: PairKind };
    // Pairs of one client (one key, or one device hopping onto an anonymizer) are counted apart, and
    // reported only when no pair of different clients is impossible.
    let worst: Pair | undefined;
    let worstOneClient: Pair | undefined;
    for (const prev of kept) {
      if (prev.place === here.place) continue;
      const rawKm = distanceKm(prev.lat, prev.lon, here.lat, here.lon);
      const km = rawKm - prev.radius_km - here.radius_km;
      if (km < cfg.minDistanceKm) continue;
      const hours = Math.abs(e.time_ms - prev.time_ms) / 3_600_000;
      const speed = hours === 0 ? Number.POSITIVE_INFINITY : km / hours;
      if (speed <= cfg.maxSpeedKmh) continue;
      // two places (or networks) the subject uses: its home and its VPN, its office and its proxy
      hereFamiliar ??= familiarTo(k.subject, here, cfg);
      if (hereFamiliar && familiarTo(k.subject, prev, cfg)) continue;
      const pair = { prev, rawKm, km, hours, speed, kind: pairKind(prev, here) };
      if (pair.kind !== 'copy') {
        if (worstOneClient === undefined || speed > worstOneClient.speed) worstOneClient = pair;
      } else if (worst === undefined || speed > worst.speed) worst = pair;
    }
    const pair = worst ?? worstOneClient;
    if (pair === undefined) continue;
    const { prev, rawKm, km, hours, speed } = pair;
    const oneClient = pair.kind !== 'copy';
    const [first, second] = prev.time_ms <= e.time_ms ? [prev, here] : [here, prev];
    if (!oneClient) {
      copied = true;
      // Two devices (or none named): which end is the thief's is unknown — neither is learned that
      // day (a thief who uses each stolen token before its owner would otherwise make his place
      // familiar). One device in two places (a home line the geo database misplaces, seen with the
      // office) keeps its earlier end: only the later one goes unlearned.
      if (prev.device_id === '' || prev.device_id !== here.device_id) {
        twoDevices = true;
        unlearnSighting(k.subject, prev);
      }
    }
    // The later sighting is the misuse; an event delivered late finds the same pair, reported once.
    found.push(
      finding('impossible_travel', {
        ...fromEvent(e),
        detected_ms: second.time_ms,
        trigger_event_id: second.event_id,
        kind: `${kind} ${KIND_TEXT[pair.kind]}`,
        // one client behind a VPN or proxy: an alert, never a revocation (below the policy's minSeverity, and alert_only)
        severity: oneClient ? 'medium' : 'high',
        confidence: speed > 3 * cfg.maxSpeedKmh ? 0.95 : 0.75,
        target: { kind, id },
        jti: kind === 'jti' ? id : e.jti,
        action: oneClient ? 'alert_only' : ACTION[kind],
        evidence: {
          events: [first.evidence(), second.evidence()],
          distance_km: Math.round(rawKm),
          distance_minus_radii_km: Math.round(km),
          radii_km: [first.radius_km, second.radius_km],
          elapsed_s: Math.round(hours * 3600 * 10) / 10,
          speed_kmh: Number.isFinite(speed) ? Math.round(speed) : null,
          max_speed_kmh: cfg.maxSpeedKmh,
          ...(pair.kind === 'bound_key' ? { proof_key_thumbprint: here.proof_key } : {}),
          ...(pair.kind === 'anonymizer_hop' ? { networks: [networkOf(first), networkOf(second)] } : {}),
        },
        first_event_ms: first.time_ms,
      }),
    );
  }
  // A place a copied token was used from is not learned: the thief's place never becomes familiar.
  if (worked(e) && !copied && !again) learnSighting(k.subject, here, cfg);
  else if (twoDevices) unlearnSighting(k.subject, here);
  return found.filter((f) => firstInWindow(k.subject, f, cfg.dedupWindowMs));
}

/** The network of a sighting as evidence: its ASN, holder and kind (0 / '' unknown). */
const networkOf = (s: Sighting) => ({ asn: s.place.asn, network_kind: s.place.network_kind });

/** Forgets the sighting's place and network for its day (learned from it or another event that day). */
function unlearnSighting(subject: KeyedState['subject'], s: Sighting) {
  const day = dayOf(s.time_ms);
  for (const key of familiarKeys(s)) forget(subject, key, day);
}

/** Learns the sighting's place and network as used by the subject on its day. */
function learnSighting(subject: KeyedState['subject'], s: Sighting, cfg: Cfg) {
  const day = dayOf(s.time_ms);
  for (const key of familiarKeys(s)) learn(subject, key, day, cfg);
}

/** The places with `here` as the latest sighting at its place, the newest MAX_PLACES in event time. */
function withPlace(kept: Sighting[], here: Sighting): Places {
  const same = kept.find((s) => s.place === here.place);
  // On equal times the later arrival replaces, as device_reuse does: both then keep the same
  // sighting, not two (memory per token).
  if (same !== undefined && same.time_ms > here.time_ms) return kept.length === 1 ? kept[0] : kept;
  const list = kept.filter((s) => s !== same);
  let at = list.length;
  while (at > 0 && list[at - 1]!.time_ms > here.time_ms) at--;
  list.splice(at, 0, here);
  const newest = list.length > MAX_PLACES ? list.slice(-MAX_PLACES) : list;
  return newest.length === 1 ? newest[0] : newest;
}

export const impossibleTravel = defineDetector({
  name: 'impossible_travel',
  finds:
    'one `jti`, session or family seen from places too far apart for the time between: great-circle distance minus both accuracy radii, over the elapsed time, above the max speed and at least the minimum distance apart; allowlisted, private/reserved, satellite and no-geo addresses are skipped, and so are pairs of two places or networks familiar to the subject',
  asks: 'revoke the jti / revoke the family / alert (session); high — alert only (medium) when one bound key proved both sightings, or one device and user agent hopped onto an anonymizer network',
  category: 'token_reuse',
  thresholds: IMPOSSIBLE_TRAVEL_THRESHOLDS,
  policy: { target: 'auto', minSeverity: 'high' },
  detect: detectImpossibleTravel,
});
