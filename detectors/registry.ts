/**
 * The detectors tokenwatch runs, one line each, in the order they see every event — and what
 * derives from them: their names, the thresholds' schema and defaults (the settings file, the docs),
 * the default response policy, how long state lives, one step over all of them.
 */
import { type TObject, type TProperties, Type } from '@sinclair/typebox';
import type { AnyDetector } from './descriptor.ts';
import { deviceReuse } from './device-reuse.ts';
import { impossibleTravel } from './impossible-travel.ts';
import { keyMismatch } from './key-mismatch.ts';
import { refreshReplay } from './refresh-replay.ts';
import type { KeyedState, Lifetimes } from './state.ts';
import { BASE_THRESHOLDS, type ThresholdSettings, type Thresholds } from './thresholds.ts';
import type { DetectorEvent, Finding, PolicyTarget, Severity } from './types.ts';
import { verificationAnomaly } from './verification-anomaly.ts';

/** The built-in detectors. A new detector: its file, and one line here. */
export const BUILT_IN = [
  refreshReplay,
  impossibleTravel,
  deviceReuse,
  verificationAnomaly,
  keyMismatch,
] as const;

/** The name of a built-in detector. */
export type DetectorName = (typeof BUILT_IN)[number]['name'];

export interface DefaultPolicy {
  target: PolicyTarget;
  minSeverity: Severity;
  dryRun: boolean;
}

/** Default of a TypeBox field (every threshold field declares one). */
const defaultOf = (field: unknown): unknown => (field as { default?: unknown }).default;

export class DetectorRegistry {
  readonly detectors: readonly AnyDetector[];
  readonly names: readonly string[];
  /** every threshold field: the shared ones and each detector's own */
  readonly thresholdFields: TProperties;
  /** the settings file's thresholds object (every field optional, nothing else allowed) */
  readonly thresholdsSchema: TObject;
  /** every threshold at its default */
  readonly defaults: Readonly<ThresholdSettings>;

  constructor(detectors: readonly AnyDetector[]) {
    const fields: TProperties = { ...BASE_THRESHOLDS };
    const owner = new Map<string, string>(
      Object.keys(BASE_THRESHOLDS).map((k) => [k, 'the shared thresholds']),
    );
    const names = new Set<string>();
    for (const d of detectors) {
      if (!/^[a-z][a-z0-9_]{0,62}$/.test(d.name))
        throw new Error(`detector name ${JSON.stringify(d.name)} must be lower_snake_case (a-z, 0-9, _)`);
      if (names.has(d.name)) throw new Error(`detector ${d.name} is registered twice`);
      names.add(d.name);
      for (const [field, schema] of Object.entries(d.thresholds)) {
        const taken = owner.get(field);
        if (taken !== undefined)
          throw new Error(`threshold ${field} of detector ${d.name} is already one of ${taken}: rename it`);
        if (defaultOf(schema) === undefined || (schema as { description?: string }).description === undefined)
          throw new Error(`threshold ${field} of detector ${d.name} needs a default and a description`);
        owner.set(field, d.name);
        fields[field] = schema;
      }
    }
    this.detectors = Object.freeze([...detectors]);
    this.names = Object.freeze([...names]);
    this.thresholdFields = fields;
    this.thresholdsSchema = Type.Partial(Type.Object(fields, { additionalProperties: false }));
    this.defaults = Object.freeze(
      Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, structuredClone(defaultOf(f))])),
    ) as ThresholdSettings;
  }

  has(name: string): boolean {
    return this.names.includes(name);
  }

  /** The policy of each detector when the operator sets none. */
  defaultPolicy(): Record<string, DefaultPolicy> {
    return Object.fromEntries(this.detectors.map((d) => [d.name, { ...d.policy, dryRun: false }]));
  }

  /** Runs every detector over one event, in order. */
  detectAll(k: KeyedState, e: DetectorEvent, t: Thresholds): Finding[] {
    const found: Finding[] = [];
    for (const d of this.detectors) {
      const f = d.detect(k, e, t);
      if (f.length > 0) found.push(...f);
    }
    return found;
  }

  /** How long state lives under thresholds `t` (the windows: the dedup window and every detector's own). */
  lifetimes(t: Thresholds): Lifetimes {
    const windows = [t.dedupWindowMs, ...this.detectors.map((d) => d.windowMs?.(t) ?? 0)];
    return {
      tokenS: t.tokenLifetimeS,
      familyS: t.familyLifetimeS,
      sessionS: t.sessionLifetimeS,
      windowS: Math.ceil(Math.max(...windows) / 1000),
      familiar: { familiarDays: t.familiarDays, familiarMinDays: t.familiarMinDays },
    };
  }
}

/** The registry of the built-in detectors: what the service runs. */
export const REGISTRY = new DetectorRegistry(BUILT_IN);
