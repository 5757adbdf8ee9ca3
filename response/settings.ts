/**
 * The response settings file (TOKENWATCH_RESPONSE_CONFIG): the policy per detector and the alert
 * webhook targets. Checked whole; every problem names its field.
 *
 *   { "policy": { "impossible_travel": { "target": "jti", "minSeverity": "high", "dryRun": true } },
 *     "webhooks": [ { "name": "oncall", "url": "https://hooks.example/…", "format": "slack",
 *                     "secretEnv": "ONCALL_WEBHOOK_SECRET", "minSeverity": "high" } ] }
 *
 * A webhook's `secretEnv` names an environment variable holding its secret (keeps secrets out of
 * the file); `secret` may also be given inline.
 */
import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { REGISTRY } from '../detectors/registry.ts';
import { SEVERITIES } from './alert.ts';
import { DEFAULT_POLICY, type DetectorPolicy, POLICY_TARGETS, type ResponsePolicy } from './decide/policy.ts';

const PolicySchema = Type.Object(
  {
    target: Type.Optional(Type.Union(POLICY_TARGETS.map((t) => Type.Literal(t)))),
    minSeverity: Type.Optional(Type.Union(SEVERITIES.map((s) => Type.Literal(s)))),
    dryRun: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const FileSchema = Type.Object(
  {
    policy: Type.Optional(
      Type.Object(Object.fromEntries(REGISTRY.names.map((n) => [n, Type.Optional(PolicySchema)])), {
        additionalProperties: false,
      }),
    ),
    webhooks: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()))),
  },
  { additionalProperties: false },
);

export type ResponseSettingsFile = Static<typeof FileSchema>;
const checkFile = TypeCompiler.Compile(FileSchema);

/** Reads and checks the file; throws an Error listing every problem, naming the file and field. */
export function readResponseFile(path: string): ResponseSettingsFile {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`response settings ${path}: ${(err as Error).message}`);
  }
  const problems = [...checkFile.Errors(value)].map(
    (e) => `${e.path === '' ? '(top level)' : e.path}: ${e.message}`,
  );
  if (problems.length > 0) {
    throw new Error(
      `response settings ${path}: ${problems.join('; ')} ` +
        `(policy keys: ${REGISTRY.names.join(', ')}; targets: ${POLICY_TARGETS.join(', ')}; severities: ${SEVERITIES.join(', ')})`,
    );
  }
  return value as ResponseSettingsFile;
}

/** The default policy with the file's entries laid over it; `dryRun` from the environment added. */
export function responsePolicy(file: ResponseSettingsFile, dryRun: readonly string[] = []): ResponsePolicy {
  const policy: Record<string, DetectorPolicy> = {};
  for (const name of REGISTRY.names) {
    const p: DetectorPolicy = { ...DEFAULT_POLICY[name]!, ...file.policy?.[name] };
    if (dryRun.includes(name)) p.dryRun = true;
    policy[name] = p;
  }
  return policy;
}

/** The file's webhook entries with `secretEnv` replaced by the secret it names. */
export function webhookEntries(
  file: ResponseSettingsFile,
  env: Record<string, string | undefined>,
): { entries: Record<string, unknown>[]; problems: string[] } {
  const problems: string[] = [];
  const entries = (file.webhooks ?? []).map((entry, i) => {
    const { secretEnv, ...rest } = entry;
    if (secretEnv === undefined) return rest;
    const secret = typeof secretEnv === 'string' ? env[secretEnv] : undefined;
    if (secret === undefined || secret === '')
      problems.push(`/webhooks/${i}/secretEnv: environment variable ${JSON.stringify(secretEnv)} is not set`);
    return { ...rest, secret: secret ?? '' };
  });
  return { entries, problems };
}
