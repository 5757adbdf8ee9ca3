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
import type { Env } from '../platform/env.ts';
import { cidrList } from '../platform/net/network.ts';
import { readTable, setting } from '../platform/settings.ts';
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

/** The detection stage's environment settings (the file's thresholds are detectorSettings'). */
export const DETECT_SETTINGS = {
  enabled: setting.bool('TOKENWATCH_DETECT', true, 'run the detectors'),
  groupId: setting.str(
    'TOKENWATCH_DETECT_GROUP_ID',
    'tokenwatch-detectors',
    'Kafka mode: the group of the one consumer of the events topics and the address topic when the detectors are on; its commits vouch for rows stored and detections published ([one read](detection.md#one-read-of-the-events-topics))',
  ),
  findingsTopic: setting.str(
    'TOKENWATCH_KAFKA_FINDINGS_TOPIC',
    'tokenwatch.findings',
    'where findings are published (Kafka mode)',
  ),
  addressTopic: setting.str(
    'TOKENWATCH_DETECT_ADDRESS_TOPIC',
    (env) => `${env['TOKENWATCH_DETECT_GROUP_ID']?.trim() || 'tokenwatch-detectors'}.by-address`,
    'Kafka mode: the detectors’ own topic, consumed by their group, where events that per-source-IP state reads (rejected verifications) are re-keyed `tenant:ip`, so each address has one owner (default: `TOKENWATCH_DETECT_GROUP_ID` + `.by-address`; [scale-out](detection.md#scale-out))',
    {
      shows: '`tokenwatch-detectors.by-address`',
      check: (t) =>
        /^[A-Za-z0-9._-]{1,249}$/.test(t) ? undefined : 'must be a Kafka topic name (A-Z a-z 0-9 . _ -)',
    },
  ),
  maxKeys: setting.int(
    'TOKENWATCH_DETECT_MAX_KEYS',
    2_000_000,
    1000,
    Number.MAX_SAFE_INTEGER,
    'cap on tracked subjects + tokens + families + sessions; past it the least recently seen subjects are evicted, from the tenant holding the most first',
  ),
  rebuildOverlapSeconds: setting.int(
    'TOKENWATCH_DETECT_REBUILD_OVERLAP_SECONDS',
    300,
    0,
    86_400,
    'on partition assignment, the topic is re-read from this long before the join besides ClickHouse',
  ),
  configFile: setting.str(
    'TOKENWATCH_DETECT_CONFIG',
    '',
    'detector settings file: thresholds, per-tenant overrides, dry-run ([detection](detection.md))',
  ),
  dryRun: setting.list(
    'TOKENWATCH_DETECT_DRY_RUN',
    [],
    'detectors reported but never acted on, comma-separated (added to the file’s)',
    {
      check: (name) => (REGISTRY.has(name) ? undefined : `is not a detector (${REGISTRY.names.join(', ')})`),
    },
  ),
  graceWindowMs: setting.custom<number | undefined>(
    'TOKENWATCH_DETECT_GRACE_WINDOW_MS',
    '`30000`',
    'refresh_replay grace window (overrides the file’s default thresholds)',
    (env, problems) =>
      (env['TOKENWATCH_DETECT_GRACE_WINDOW_MS']?.trim() ?? '') === ''
        ? undefined
        : setting.int('TOKENWATCH_DETECT_GRACE_WINDOW_MS', 0, 0, 3_600_000, '').read(env, problems),
  ),
  allowlist: setting.list(
    'TOKENWATCH_DETECT_ALLOWLIST',
    [],
    'CIDRs never treated as a place or network (VPN egress, corporate proxies), added to the file’s',
  ),
};

export interface DetectStageSettings {
  enabled: boolean;
  groupId: string;
  findingsTopic: string;
  addressTopic: string;
  maxKeys: number;
  rebuildOverlapSeconds: number;
  configFile: string;
  settings: DetectorSettings;
}

/** Reads the detection stage's settings (the environment, then the settings file it names). */
export function readDetectSettings(env: Env, problems: string[]): DetectStageSettings {
  // the settings file's problems first: it is the bigger mistake, and the rest may follow from it
  const own: string[] = [];
  const s = readTable(DETECT_SETTINGS, env, own);
  let file: DetectorSettingsFile = {};
  if (s.configFile !== '') {
    try {
      file = readSettingsFile(s.configFile);
    } catch (err) {
      problems.push(`TOKENWATCH_DETECT_CONFIG: ${(err as Error).message}`);
    }
  }
  problems.push(...own);
  try {
    cidrList(s.allowlist);
  } catch (err) {
    problems.push(`TOKENWATCH_DETECT_ALLOWLIST: ${(err as Error).message}`);
  }
  // Set: overrides the settings file's grace window; unset: the file's (or the default) stands.
  const overrides = {
    ...(s.graceWindowMs !== undefined ? { graceWindowMs: s.graceWindowMs } : {}),
    ...(s.allowlist.length > 0 ? { allowlistCidrs: s.allowlist } : {}),
  };
  return {
    enabled: s.enabled,
    groupId: s.groupId,
    findingsTopic: s.findingsTopic,
    addressTopic: s.addressTopic,
    maxKeys: s.maxKeys,
    rebuildOverlapSeconds: s.rebuildOverlapSeconds,
    configFile: s.configFile,
    settings: detectorSettings(
      file,
      overrides,
      s.dryRun.filter((n) => REGISTRY.has(n)),
    ),
  };
}
