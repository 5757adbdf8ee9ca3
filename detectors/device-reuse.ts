/**
 * device_reuse: the same jti or refresh family presented from two or more device_ids; without
 * device ids, the same jti from more distinct networks (/24, /48) within a short window than one
 * client uses (default ≥ 3 networks in 5 minutes). Allowlisted and private networks do not count.
 */
import type { Thresholds } from './config.ts';
import { finding, firstInWindow, fromEvent } from './finding.ts';
import { isTelling, networkOf } from './network.ts';
import { familyOf, type KeyedState, type Sighting, sightingOf, tokenOf } from './state.ts';
import type { DetectorEvent, Finding } from './types.ts';

/** Devices (or networks) remembered per token: enough to prove reuse, bounded against floods. */
const MAX_DEVICES = 8;

const presented = (e: DetectorEvent) =>
  (e.type === 'verification' || e.type === 'refresh') && e.reason !== 'malformed';

/** Adds the event as its device's first sighting; the list when it grew, undefined when the device was known. */
function addDevice(list: Sighting[] | undefined, here: Sighting): Sighting[] | undefined {
  if (list === undefined) return [here];
  if (list.length >= MAX_DEVICES || list.some((s) => s.device_id === here.device_id)) return undefined;
  return [...list, here];
}

export function detectDeviceReuse(k: KeyedState, e: DetectorEvent, cfg: Thresholds): Finding[] {
  if (!presented(e)) return [];
  const found: Finding[] = [];
  const here = sightingOf(e);

  if (e.device_id !== '') {
    const holders: ['jti' | 'family', string, { devices: Sighting[] | undefined }][] = [];
    if (e.jti !== '') holders.push(['jti', e.jti, tokenOf(k.subject, e.jti, e, cfg.tokenLifetimeS)]);
    if (e.family_id !== '') holders.push(['family', e.family_id, familyOf(k.subject, e.family_id, e)]);
    for (const [kind, id, holder] of holders) {
      const grown = addDevice(holder.devices, here);
      if (grown === undefined) continue;
      holder.devices = grown;
      if (grown.length < 2) continue;
      found.push(
        finding('device_reuse', {
          ...fromEvent(e),
          kind: `${kind} presented from more than one device`,
          severity: 'high',
          confidence: 0.9,
          target: { kind, id },
          action: kind === 'jti' ? 'revoke_jti' : 'revoke_family',
          evidence: { events: grown.map((s) => s.evidence()), devices: grown.map((s) => s.device_id) },
          first_event_ms: Math.min(...grown.map((s) => s.time_ms)),
        }),
      );
    }
  } else if (e.jti !== '' && isTelling(e.ip, cfg.allowlist)) {
    const token = tokenOf(k.subject, e.jti, e, cfg.tokenLifetimeS);
    const network = networkOf(e.ip);
    const recent = (token.networks ?? []).filter(
      (s) => Math.abs(e.time_ms - s.time_ms) <= cfg.networkWindowMs && networkOf(s.ip) !== network,
    );
    recent.push(here);
    token.networks = recent.slice(-MAX_DEVICES);
    if (recent.length >= cfg.maxNetworks) {
      found.push(
        finding('device_reuse', {
          ...fromEvent(e),
          kind: 'jti presented from more networks at once than a client uses',
          severity: 'medium',
          confidence: 0.7,
          target: { kind: 'jti', id: e.jti },
          action: 'alert_only',
          evidence: {
            events: recent.map((s) => s.evidence()),
            networks: recent.map((s) => networkOf(s.ip)),
            window_ms: cfg.networkWindowMs,
          },
          first_event_ms: recent[0]!.time_ms,
        }),
      );
    }
  }
  return found.filter((f) => firstInWindow(k.subject, f, cfg.dedupWindowMs));
}
