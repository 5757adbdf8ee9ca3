/**
 * Detector settings: thresholds, per-tenant overrides and dry-run, from a JSON file (the service's
 * TOKENWATCH_DETECT_CONFIG and the backtest's --config take the same file):
 *
 *   { "thresholds": { "graceWindowMs": 30000, "allowlistCidrs": ["185.65.134.0/24"] },
 *     "tenants": { "acme": { "maxSpeedKmh": 900 } },
 *     "dryRun": ["device_reuse"] }
 */
import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { cidrList } from '../platform/net/network.ts';
import { DEFAULT_SETTINGS, TenantThresholds, type ThresholdSettings } from './config.ts';
import { DETECTOR_NAMES } from './engine.ts';
import type { DetectorName } from './types.ts';

const positive = (description: string) => Type.Integer({ minimum: 1, description });

const ThresholdsSchema = Type.Partial(
  Type.Object(
    {
      graceWindowMs: Type.Integer({ minimum: 0, description: 'refresh_replay grace window' }),
      maxSpeedKmh: positive('impossible_travel max speed'),
      minDistanceKm: Type.Integer({ minimum: 0, description: 'impossible_travel minimum distance' }),
      maxNetworks: Type.Integer({ minimum: 2, description: 'device_reuse networks per window' }),
      networkWindowMs: positive('device_reuse network window'),
      burstThreshold: Type.Integer({ minimum: 2, description: 'verification_anomaly burst size' }),
      burstWindowMs: positive('verification_anomaly burst window'),
      dedupWindowMs: Type.Integer({ minimum: 0, description: 'one finding per target per window' }),
      tokenLifetimeS: positive('jti kept this long without exp'),
      familyLifetimeS: positive('refresh family kept this long after last seen'),
      sessionLifetimeS: positive('session kept this long after last seen'),
      allowlistCidrs: Type.Array(Type.String(), { description: 'networks never treated as a place' }),
    },
    { additionalProperties: false },
  ),
);

const FileSchema = Type.Object(
  {
    thresholds: Type.Optional(ThresholdsSchema),
    tenants: Type.Optional(Type.Record(Type.String({ minLength: 1 }), ThresholdsSchema)),
    dryRun: Type.Optional(Type.Array(Type.Union(DETECTOR_NAMES.map((n) => Type.Literal(n))))),
  },
  { additionalProperties: false },
);

export type DetectorSettingsFile = Static<typeof FileSchema>;
const checkFile = TypeCompiler.Compile(FileSchema);

export interface DetectorSettings {
  thresholds: TenantThresholds;
  dryRun: ReadonlySet<DetectorName>;
  /** the base settings (defaults ← file ← environment), for lifetimes and reports */
  base: ThresholdSettings;
}

/** Problems in a parsed settings file, each naming the field; empty when valid. */
export function settingsProblems(value: unknown): string[] {
  const problems = [...checkFile.Errors(value)].map((e) =>
    e.path.startsWith('/dryRun/')
      ? `${e.path}: ${JSON.stringify(e.value)} is not a detector (${DETECTOR_NAMES.join(', ')})`
      : `${e.path === '' ? '(top level)' : e.path}: ${e.message}`,
  );
  if (problems.length > 0) return problems;
  const file = value as DetectorSettingsFile;
  const scopes: [string, Partial<ThresholdSettings> | undefined][] = [
    ['/thresholds', file.thresholds],
    ...Object.entries(file.tenants ?? {}).map(([t, s]) => [`/tenants/${t}`, s] as [string, typeof s]),
  ];
  for (const [path, s] of scopes) {
    try {
      cidrList(s?.allowlistCidrs ?? []);
    } catch (err) {
      problems.push(`${path}/allowlistCidrs: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** Reads and checks a settings file; throws an Error listing every problem, naming the file. */
export function readSettingsFile(path: string): DetectorSettingsFile {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`detector settings ${path}: ${(err as Error).message}`);
  }
  const problems = settingsProblems(value);
  if (problems.length > 0) throw new Error(`detector settings ${path}: ${problems.join('; ')}`);
  return value as DetectorSettingsFile;
}

/** Defaults ← file ← overrides (from the environment); dry-run is the union of both lists. */
export function detectorSettings(
  file: DetectorSettingsFile = {},
  overrides: Partial<ThresholdSettings> = {},
  dryRun: readonly DetectorName[] = [],
): DetectorSettings {
  const base: ThresholdSettings = { ...DEFAULT_SETTINGS, ...file.thresholds, ...overrides };
  if (overrides.allowlistCidrs !== undefined) {
    base.allowlistCidrs = [...(file.thresholds?.allowlistCidrs ?? []), ...overrides.allowlistCidrs];
  }
  return {
    base,
    thresholds: new TenantThresholds(base, file.tenants ?? {}),
    dryRun: new Set([...(file.dryRun ?? []), ...dryRun]),
  };
}
