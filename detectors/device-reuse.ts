/**
 * device_reuse: the same jti or refresh family presented from two or more device_ids; without
 * device ids, the same jti from more distinct networks (/24, /48) within a short window than one
 * client uses (default ≥ 3 networks in 5 minutes). Allowlisted and private networks do not count.
 */
import type { Thresholds } from './config.ts';
import { dedupe, finding, fromEvent } from './finding.ts';
import { isTelling, networkOf } from './network.ts';
import {
  type DetectorEvent,
  type EvidenceEvent,
  evidenceOf,
  type Finding,
  type StepResult,
} from './types.ts';

/** Devices remembered per token: enough to prove reuse, bounded against floods. */
const MAX_DEVICES = 8;

interface Seen {
  /** the first event from each device (or network) */
  first: Record<string, EvidenceEvent>;
}

export interface DeviceReuseState {
  /** `jti:…` / `family:…` → devices seen */
  devices: Record<string, Seen>;
  /** jti → recent (network, time) sightings without a device id */
  networks: Record<string, { network: string; time_ms: number; event: EvidenceEvent }[]>;
  reported: Record<string, number>;
}

export const initialDeviceReuseState = (): DeviceReuseState => ({ devices: {}, networks: {}, reported: {} });

const presented = (e: DetectorEvent) =>
  (e.type === 'verification' || e.type === 'refresh') && e.reason !== 'malformed';

export function stepDeviceReuse(
  state: DeviceReuseState,
  e: DetectorEvent,
  cfg: Thresholds,
): StepResult<DeviceReuseState> {
  if (!presented(e)) return { state, findings: [] };
  const found: Finding[] = [];
  let next = state;
  const base = fromEvent(e);

  if (e.device_id !== '') {
    const keys: ['jti' | 'family', string][] = [];
    if (e.jti !== '') keys.push(['jti', e.jti]);
    if (e.family_id !== '') keys.push(['family', e.family_id]);
    for (const [kind, id] of keys) {
      const key = `${kind}:${id}`;
      const seen = next.devices[key] ?? { first: {} };
      if (seen.first[e.device_id] !== undefined || Object.keys(seen.first).length >= MAX_DEVICES) continue;
      const updated: Seen = { first: { ...seen.first, [e.device_id]: evidenceOf(e) } };
      next = { ...next, devices: { ...next.devices, [key]: updated } };
      const devices = Object.keys(updated.first);
      if (devices.length < 2) continue;
      const events = Object.values(updated.first);
      found.push(
        finding('device_reuse', {
          ...base,
          kind: `${kind} presented from more than one device`,
          severity: 'high',
          confidence: 0.9,
          target: { kind, id },
          action: kind === 'jti' ? 'revoke_jti' : 'revoke_family',
          evidence: { events, devices },
          first_event_ms: Math.min(...events.map((x) => x.time_ms)),
        }),
      );
    }
  } else if (e.jti !== '' && isTelling(e.ip, cfg.allowlist)) {
    const network = networkOf(e.ip);
    const recent = (next.networks[e.jti] ?? []).filter(
      (s) => e.time_ms - s.time_ms <= cfg.networkWindowMs && s.network !== network,
    );
    recent.push({ network, time_ms: e.time_ms, event: evidenceOf(e) });
    next = { ...next, networks: { ...next.networks, [e.jti]: recent.slice(-MAX_DEVICES) } };
    if (recent.length >= cfg.maxNetworks) {
      found.push(
        finding('device_reuse', {
          ...base,
          kind: 'jti presented from more networks at once than a client uses',
          severity: 'medium',
          confidence: 0.7,
          target: { kind: 'jti', id: e.jti },
          action: 'alert_only',
          evidence: {
            events: recent.map((s) => s.event),
            networks: recent.map((s) => s.network),
            window_ms: cfg.networkWindowMs,
          },
          first_event_ms: recent[0]!.time_ms,
        }),
      );
    }
  }
  return dedupe(next, found, cfg.dedupWindowMs);
}
