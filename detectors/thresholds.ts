/**
 * Thresholds: the ones every detector shares (finding dedup window, state lifetimes, the network
 * allowlist) and, from the registry, each detector's own — merged into one object per tenant
 * (defaults ← settings file ← environment ← the tenant's overrides), built once per tenant.
 */
import type { BlockList } from 'node:net';
import { type Static, Type } from '@sinclair/typebox';
import { cidrList } from '../platform/net/network.ts';

/** The thresholds that are no one detector's, with their defaults. */
export const BASE_THRESHOLDS = {
  dedupWindowMs: Type.Integer({
    minimum: 0,
    default: 10 * 60_000,
    description: 'one finding per (detector, kind, target) per this window (ms of event time)',
  }),
  tokenLifetimeS: Type.Integer({
    minimum: 1,
    default: 3600,
    description: 'a jti without `exp` is kept this long after it was last seen (s)',
  }),
  familyLifetimeS: Type.Integer({
    minimum: 1,
    default: 14 * 24 * 3600,
    description:
      'a refresh family is kept this long after it was last seen (s): its refresh tokens’ lifetime',
  }),
  sessionLifetimeS: Type.Integer({
    minimum: 1,
    default: 24 * 3600,
    description: 'a session’s last place is kept this long after it was last seen (s)',
  }),
  allowedLatenessMs: Type.Integer({
    minimum: 0,
    maximum: 24 * 3_600_000,
    default: 5 * 60_000,
    description:
      'events reaching a detector up to this late (ms of event time behind the newest event of their family, token or address) are judged in their place, as if they had come in order; later ones are judged with what is left and their findings say how late they came',
  }),
  familiarDays: Type.Integer({
    minimum: 0,
    maximum: 20,
    default: 14,
    description:
      'the learning period of familiar places and networks (days): where a subject’s tokens were used on `familiarMinDays` distinct days within it is familiar, and a hop between two familiar ones is not travel evidence (0: nothing is familiar)',
  }),
  familiarMinDays: Type.Integer({
    minimum: 1,
    maximum: 20,
    default: 2,
    description: 'distinct days (of `familiarDays`) a place or network must have been used on to be familiar',
  }),
  allowlistCidrs: Type.Array(Type.String(), {
    default: [],
    description: 'networks never treated as a place or network (VPN egress, corporate proxies)',
  }),
};

const BaseSettings = Type.Object(BASE_THRESHOLDS);
/** The shared thresholds as settings (CIDRs as text). */
export type BaseSettings = Static<typeof BaseSettings>;

/** The shared thresholds as detectors read them: the allowlist built. */
export type BaseThresholds = Omit<BaseSettings, 'allowlistCidrs'> & { allowlist: BlockList };

/** Threshold settings of every detector, by field name (values are numbers, CIDR lists, …). */
export type ThresholdSettings = BaseSettings & Record<string, unknown>;
/** What `detect` is handed: every threshold of the registry, the allowlist built. */
export type Thresholds = BaseThresholds & Record<string, unknown>;

/** Settings → the thresholds detectors read (the allowlist parsed). */
export function buildThresholds(settings: ThresholdSettings): Thresholds {
  const { allowlistCidrs, ...rest } = settings;
  return { ...rest, allowlist: cidrList(allowlistCidrs) } as Thresholds;
}

/** Thresholds per tenant: the base settings merged with the tenant's overrides, built once per tenant. */
export class TenantThresholds {
  readonly #base: ThresholdSettings;
  readonly #overrides: Record<string, Partial<ThresholdSettings>>;
  readonly #built = new Map<string, Thresholds>();

  constructor(base: ThresholdSettings, overrides: Record<string, Partial<ThresholdSettings>> = {}) {
    this.#base = base;
    this.#overrides = overrides;
  }

  for(tenant: string): Thresholds {
    let t = this.#built.get(tenant);
    if (t === undefined) {
      t = buildThresholds({ ...this.#base, ...this.#overrides[tenant] } as ThresholdSettings);
      this.#built.set(tenant, t);
    }
    return t;
  }
}
