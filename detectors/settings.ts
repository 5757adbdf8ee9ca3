/**
 * Detector settings: thresholds, per-tenant overrides and dry-run, from a JSON file (the service's
 * TOKENWATCH_DETECT_CONFIG and the backtest's --config take the same file):
 *
 *   { "thresholds": { "graceWindowMs": 30000, "allowlistCidrs": ["185.65.134.0/24"] },
 *     "tenants": { "acme": { "maxSpeedKmh": 900 } },
 *     "dryRun": ["device_reuse"] }
 */
import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { cidrList } from '../platform/net/network.ts';
import { type DetectorRegistry, REGISTRY } from './registry.ts';
import { TenantThresholds, type ThresholdSettings } from './thresholds.ts';

/** The settings file: thresholds (the registry's fields), per-tenant overrides, dry-run detectors. */
export interface DetectorSettingsFile {
  thresholds?: Partial<ThresholdSettings>;
  tenants?: Record<string, Partial<ThresholdSettings>>;
  dryRun?: string[];
}

/** The file's schema under a registry (its thresholds and detector names). */
function fileSchema(registry: DetectorRegistry) {
  return Type.Object(
    {
      thresholds: Type.Optional(registry.thresholdsSchema),
      tenants: Type.Optional(Type.Record(Type.String({ minLength: 1 }), registry.thresholdsSchema)),
      dryRun: Type.Optional(Type.Array(Type.Union(registry.names.map((n) => Type.Literal(n))))),
    },
    { additionalProperties: false },
  );
}

const checks = new WeakMap<DetectorRegistry, ReturnType<typeof TypeCompiler.Compile>>();
const checkOf = (registry: DetectorRegistry) => {
  let c = checks.get(registry);
  if (c === undefined) {
    c = TypeCompiler.Compile(fileSchema(registry));
    checks.set(registry, c);
  }
  return c;
};

export interface DetectorSettings {
  thresholds: TenantThresholds;
  dryRun: ReadonlySet<string>;
  /** the base settings (defaults ← file ← environment), for lifetimes and reports */
  base: ThresholdSettings;
}

/** Problems in a parsed settings file, each naming the field; empty when valid. */
export function settingsProblems(value: unknown, registry: DetectorRegistry = REGISTRY): string[] {
  const problems = [...checkOf(registry).Errors(value)].map((e) =>
    e.path.startsWith('/dryRun/')
      ? `${e.path}: ${JSON.stringify(e.value)} is not a detector (${registry.names.join(', ')})`
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
      cidrList((s?.allowlistCidrs as string[] | undefined) ?? []);
    } catch (err) {
      problems.push(`${path}/allowlistCidrs: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** Reads and checks a settings file; throws an Error listing every problem, naming the file. */
export function readSettingsFile(path: string, registry: DetectorRegistry = REGISTRY): DetectorSettingsFile {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`detector settings ${path}: ${(err as Error).message}`);
  }
  const problems = settingsProblems(value, registry);
  if (problems.length > 0) throw new Error(`detector settings ${path}: ${problems.join('; ')}`);
  return value as DetectorSettingsFile;
}

/** Defaults ← file ← overrides (from the environment); dry-run is the union of both lists. */
export function detectorSettings(
  file: DetectorSettingsFile = {},
  overrides: Partial<ThresholdSettings> = {},
  dryRun: readonly string[] = [],
  registry: DetectorRegistry = REGISTRY,
): DetectorSettings {
  const base = { ...registry.defaults, ...file.thresholds, ...overrides } as ThresholdSettings;
  if (overrides.allowlistCidrs !== undefined) {
    base.allowlistCidrs = [...(file.thresholds?.allowlistCidrs ?? []), ...overrides.allowlistCidrs];
  }
  return {
    base,
    thresholds: new TenantThresholds(base, file.tenants ?? {}),
    dryRun: new Set([...(file.dryRun ?? []), ...dryRun]),
  };
}
