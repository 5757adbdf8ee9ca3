/** Detector thresholds, with per-tenant overrides. Defaults are the documented ones. */
import type { BlockList } from 'node:net';
import { cidrList } from '../platform/net/network.ts';

export interface Thresholds {
  /** refresh_replay: a second presentation of a rotated token this soon, with matching evidence, is a benign race */
  graceWindowMs: number;
  /** impossible_travel: faster than this (km/h), after subtracting both accuracy radii, is impossible */
  maxSpeedKmh: number;
  /** impossible_travel: closer than this (km) is never reported */
  minDistanceKm: number;
  /** device_reuse: this many distinct networks for one jti within networkWindowMs (without device ids) */
  maxNetworks: number;
  networkWindowMs: number;
  /** verification_anomaly: this many bad_signature/unknown_kid/wrong_audience/wrong_issuer within burstWindowMs */
  burstThreshold: number;
  burstWindowMs: number;
  /** one finding per (detector, target) per this window */
  dedupWindowMs: number;
  /** state lifetimes (event time): a jti without `exp` after it was last seen; a family and a session after they were last seen */
  tokenLifetimeS: number;
  familyLifetimeS: number;
  sessionLifetimeS: number;
  /** networks never treated as a place (VPN egress, corporate proxies) */
  allowlist: BlockList;
}

export interface ThresholdSettings extends Omit<Thresholds, 'allowlist'> {
  allowlistCidrs: string[];
}

export const DEFAULT_SETTINGS: Readonly<ThresholdSettings> = Object.freeze({
  graceWindowMs: 30_000,
  maxSpeedKmh: 1000,
  minDistanceKm: 300,
  maxNetworks: 3,
  networkWindowMs: 5 * 60_000,
  burstThreshold: 20,
  burstWindowMs: 60_000,
  dedupWindowMs: 10 * 60_000,
  tokenLifetimeS: 3600,
  familyLifetimeS: 14 * 24 * 3600,
  sessionLifetimeS: 24 * 3600,
  allowlistCidrs: [],
});

export function thresholds(settings: Partial<ThresholdSettings> = {}): Thresholds {
  const { allowlistCidrs, ...rest } = { ...DEFAULT_SETTINGS, ...settings };
  return { ...rest, allowlist: cidrList(allowlistCidrs) };
}

/** Thresholds per tenant: the defaults merged with the tenant's overrides, built once per tenant. */
export class TenantThresholds {
  readonly #base: Partial<ThresholdSettings>;
  readonly #overrides: Record<string, Partial<ThresholdSettings>>;
  readonly #built = new Map<string, Thresholds>();

  constructor(
    base: Partial<ThresholdSettings> = {},
    overrides: Record<string, Partial<ThresholdSettings>> = {},
  ) {
    this.#base = base;
    this.#overrides = overrides;
  }

  for(tenant: string): Thresholds {
    let t = this.#built.get(tenant);
    if (t === undefined) {
      t = thresholds({ ...this.#base, ...this.#overrides[tenant] });
      this.#built.set(tenant, t);
    }
    return t;
  }
}
