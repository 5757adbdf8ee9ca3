/**
 * device_reuse: the same jti or refresh family presented from two or more device_ids (the evidence
 * says how far they are believed: `device_trust` strong when the auth server vouches for each); without
 * device ids, the same jti from more distinct networks (/24, /48) within a short window than one
 * client uses (default ≥ 3 networks in 5 minutes of event time, windows.ts). Allowlisted and private
 * networks do not count. A device set only grows, so the verdict does not depend on report order.
 */

import { Type } from '@sinclair/typebox';
import { isTelling, networkOf } from '../platform/net/network.ts';
import { defineDetector, type ThresholdsOf } from './descriptor.ts';
import { finding, firstInWindow, fromEvent } from './finding.ts';
import {
  type Devices,
  devicesList,
  familyOf,
  type KeyedState,
  type Sighting,
  sightingOf,
  tokenOf,
} from './state.ts';
import { deviceTrust, heldToken } from './trust.ts';
import type { DetectorEvent, Finding } from './types.ts';
import { busiestWindowWith, insertByTime } from './windows.ts';

export const DEVICE_REUSE_THRESHOLDS = {
  maxNetworks: Type.Integer({
    minimum: 2,
    default: 3,
    description:
      'this many distinct networks (/24, /48) for one jti within the network window, without device ids, is reuse',
  }),
  networkWindowMs: Type.Integer({
    minimum: 1,
    default: 5 * 60_000,
    description: 'the window (ms) those networks are counted in',
  }),
};
type Cfg = ThresholdsOf<typeof DEVICE_REUSE_THRESHOLDS>;

/** Devices (or networks) remembered per token: enough to prove reuse, bounded against floods. */
const MAX_DEVICES = 8;

/** A use of the token: a verification whose claims were verified, or a refresh by the token's holder. */
const presented = (e: DetectorEvent) => (e.type === 'verification' || e.type === 'refresh') && heldToken(e);

/**
 * Keeps the event as its device's latest sighting. Returns the devices when a new device joined
 * (a finding when there are now two or more), undefined when the device was known (or the list full).
 */
function seeDevice(holder: { devices: Devices }, here: Sighting): Sighting[] | undefined {
  const list = devicesList(holder.devices);
  const i = list.findIndex((s) => s.device_id === here.device_id);
  if (i >= 0) {
    if (list[i]!.time_ms <= here.time_ms) {
      if (list.length === 1) holder.devices = here;
      else list[i] = here;
    }
    return undefined;
  }
  if (list.length >= MAX_DEVICES) return undefined;
  const grown = [...list, here];
  holder.devices = grown.length === 1 ? here : grown;
  return grown;
}

/**
 * A finding is dated by the latest of its sightings (event time), whichever arrived last: a late
 * report of the owner's earlier use finds the same misuse, at the same moment, as in-order delivery.
 */
function atLatest(sightings: readonly Sighting[]): { detected_ms: number; trigger_event_id: string } {
  let latest = sightings[0]!;
  for (const s of sightings) if (s.time_ms > latest.time_ms) latest = s;
  return { detected_ms: latest.time_ms, trigger_event_id: latest.event_id };
}

export function detectDeviceReuse(k: KeyedState, e: DetectorEvent, cfg: Cfg): Finding[] {
  if (!presented(e)) return [];
  const found: Finding[] = [];
  const here = sightingOf(e);

  if (e.device_id !== '') {
    const holders: ['jti' | 'family', string, { devices: Devices }][] = [];
    if (e.jti !== '') holders.push(['jti', e.jti, tokenOf(k.subject, e.jti, e, cfg.tokenLifetimeS)]);
    if (e.family_id !== '') holders.push(['family', e.family_id, familyOf(k.subject, e.family_id, e)]);
    for (const [kind, id, holder] of holders) {
      const grown = seeDevice(holder, here);
      if (grown === undefined || grown.length < 2) continue;
      found.push(
        finding('device_reuse', {
          ...fromEvent(e),
          ...atLatest(grown),
          kind: `${kind} presented from more than one device`,
          severity: 'high',
          confidence: 0.9,
          target: { kind, id },
          action: kind === 'jti' ? 'revoke_jti' : 'revoke_family',
          evidence: {
            events: grown.map((s) => s.evidence()),
            devices: grown.map((s) => s.device_id),
            device_sources: grown.map((s) => s.device_source),
            // strong: the auth server vouches for every device id (claim, auth_server); the response
            // policy may require it to revoke (response/decide/policy.ts)
            device_trust: deviceTrust(grown.map((s) => s.device_source)),
          },
          first_event_ms: Math.min(...grown.map((s) => s.time_ms)),
        }),
      );
    }
  } else if (e.jti !== '' && isTelling(e.ip, cfg.allowlist)) {
    const token = tokenOf(k.subject, e.jti, e, cfg.tokenLifetimeS);
    // sightings of the window and the allowed lateness, in event-time order
    const kept = insertByTime(
      token.networks,
      here,
      cfg.networkWindowMs + cfg.allowedLatenessMs,
      2 * MAX_DEVICES,
    );
    if (kept === undefined) return []; // delivered again
    const network = (s: Sighting) => networkOf(s.ip);
    const window = busiestWindowWith(kept, here, cfg.networkWindowMs, network);
    // kept: the latest sighting per network (a busy network does not push the others out)
    const latest = new Map(kept.map((s) => [network(s), s]));
    token.networks = kept.filter((s) => latest.get(network(s)) === s).slice(-MAX_DEVICES);
    // one sighting per network: the latest in the window
    const recent = [...new Map(window.map((s) => [network(s), s])).values()];
    if (recent.length >= cfg.maxNetworks) {
      found.push(
        finding('device_reuse', {
          ...fromEvent(e),
          ...atLatest(recent),
          kind: 'jti presented from more networks at once than a client uses',
          severity: 'medium',
          confidence: 0.7,
          target: { kind: 'jti', id: e.jti },
          action: 'alert_only',
          evidence: {
            events: recent.map((s) => s.evidence()),
            networks: recent.map(network),
            window_ms: cfg.networkWindowMs,
          },
          first_event_ms: recent[0]!.time_ms,
        }),
      );
    }
  }
  return found.filter((f) => firstInWindow(k.subject, f, cfg.dedupWindowMs));
}

export const deviceReuse = defineDetector({
  name: 'device_reuse',
  finds:
    'one `jti` or family presented from two or more `device_id`s; without device ids, one `jti` from as many networks within the network window as `maxNetworks`',
  asks: 'revoke the jti / revoke the family / alert (networks); high / medium',
  category: 'token_reuse',
  thresholds: DEVICE_REUSE_THRESHOLDS,
  policy: { target: 'auto', minSeverity: 'high' },
  windowMs: (t) => t.networkWindowMs,
  detect: detectDeviceReuse,
});
