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
import type { Env } from '../platform/env.ts';
import { type KeycloakSettings, readKeycloakSettings } from '../platform/keycloak/settings.ts';
import { cidrList } from '../platform/net/network.ts';
import { readTable, setting } from '../platform/settings.ts';
import { SEVERITIES } from './alert.ts';
import { DEFAULT_POLICY, type DetectorPolicy, POLICY_TARGETS, type ResponsePolicy } from './decide/policy.ts';
import { REVOKE_ADAPTERS, type RevokeAdapterName } from './revoke/adapter.ts';
import { FAMILY_MODES, type FamilyMode } from './revoke/keycloak/calls.ts';
import { parseWebhookTargets, type WebhookTarget } from './webhooks/index.ts';

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

/**
 * The default policy with the file's entries laid over it; `dryRun` from the environment added, and
 * with `requireStrongDevice` every detector's device evidence must be strong to revoke.
 */
export function responsePolicy(
  file: ResponseSettingsFile,
  dryRun: readonly string[] = [],
  requireStrongDevice = false,
): ResponsePolicy {
  const policy: Record<string, DetectorPolicy> = {};
  for (const name of REGISTRY.names) {
    const p: DetectorPolicy = { ...DEFAULT_POLICY[name]!, ...file.policy?.[name] };
    if (dryRun.includes(name)) p.dryRun = true;
    if (requireStrongDevice) p.requireStrongDevice = true;
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

const noDetector = (name: string) => (REGISTRY.has(name) ? undefined : 'is not a detector');
const httpUrl = (v: string) => (/^https?:\/\/[^/]+/.test(v) ? undefined : 'must be an http(s) URL');

/** The response stage's environment settings (the policy file's are responsePolicy's). */
export const RESPONSE_SETTINGS = {
  configFile: setting.str(
    'TOKENWATCH_RESPONSE_CONFIG',
    '',
    'response settings file: policy per detector and webhook targets ([response](response.md))',
  ),
  dryRun: setting.list(
    'TOKENWATCH_RESPONSE_DRY_RUN',
    [],
    'detectors whose revocations are decided and recorded as `dry_run`, never sent (comma-separated)',
    { check: noDetector },
  ),
  deviceRevokeRequiresStrong: setting.bool(
    'TOKENWATCH_POLICY_DEVICE_REVOKE_REQUIRES_STRONG',
    false,
    'revoke on device evidence (`device_reuse`) only when its device ids are strong — vouched for by the auth server ' +
      '(`device_id_source` `claim` or `auth_server`); a finding on weak ones (a header or cookie the client sent, ' +
      'or unknown) is alert only ([response](response.md#device-evidence-and-its-trust)). Off: every device id counts alike',
  ),
  adapter: setting.oneOf(
    'TOKENWATCH_REVOKE_ADAPTER',
    'contract',
    REVOKE_ADAPTERS,
    'how revocations reach the auth server: `contract` (the generic revocation API at TOKENWATCH_AUTH_REVOKE_URL), ' +
      '`keycloak` (Keycloak’s admin API, the Keycloak settings below; [auth servers](auth-servers.md))',
  ),
  keycloakFamily: setting.oneOf(
    'TOKENWATCH_KEYCLOAK_FAMILY_REVOKE',
    'session',
    FAMILY_MODES,
    'with the Keycloak adapter, what revoking a family (a client session) does: `session` deletes its user session ' +
      '(every client of it), `consent` deletes the user’s consent for the client (its offline tokens)',
  ),
  revocationUrl: setting.str(
    'TOKENWATCH_AUTH_REVOKE_URL',
    '',
    'the auth API’s revocation endpoint (`POST`, [response](response.md)); none: nothing is revoked',
    { check: httpUrl },
  ),
  token: setting.str('TOKENWATCH_AUTH_TOKEN', '', 'static bearer token for the auth API'),
  tokenUrl: setting.str(
    'TOKENWATCH_AUTH_TOKEN_URL',
    '',
    'OAuth 2.0 token endpoint for client credentials (used instead of the static token when set)',
    { check: httpUrl },
  ),
  clientId: setting.str('TOKENWATCH_AUTH_CLIENT_ID', '', 'client id (HTTP Basic at the token endpoint)'),
  clientSecret: setting.secret('TOKENWATCH_AUTH_CLIENT_SECRET', 'its secret'),
  scope: setting.str('TOKENWATCH_AUTH_SCOPE', 'revoke', 'scope asked for with client credentials'),
  timeoutMs: setting.int(
    'TOKENWATCH_AUTH_TIMEOUT_MS',
    2000,
    50,
    600_000,
    'deadline of one call to the auth API (and to its token endpoint)',
  ),
  retryBaseMs: setting.int(
    'TOKENWATCH_AUTH_RETRY_BASE_MS',
    200,
    1,
    600_000,
    'first retry delay; doubles per attempt, with jitter',
  ),
  retryMaxMs: setting.int(
    'TOKENWATCH_AUTH_RETRY_MAX_MS',
    5000,
    1,
    3_600_000,
    'cap of one retry delay (also of a `Retry-After`)',
  ),
  giveUpSeconds: setting.int(
    'TOKENWATCH_AUTH_GIVE_UP_SECONDS',
    86_400,
    1,
    30 * 86_400,
    'a revocation still failing this long after its decision is `failed` and pages',
  ),
  breakerFailures: setting.int(
    'TOKENWATCH_AUTH_BREAKER_FAILURES',
    5,
    1,
    1000,
    'failed calls in a row that open the circuit breaker',
  ),
  breakerCooldownMs: setting.int(
    'TOKENWATCH_AUTH_BREAKER_COOLDOWN_MS',
    5000,
    10,
    3_600_000,
    'how long the breaker stays open before one probe call',
  ),
  guardPerTenant: setting.int(
    'TOKENWATCH_GUARD_TENANT_PER_MINUTE',
    30,
    0,
    1_000_000,
    'revocations per tenant per sliding minute, across all instances in Kafka mode; past it: alert only, page once',
  ),
  guardTotal: setting.int(
    'TOKENWATCH_GUARD_TOTAL_PER_MINUTE',
    120,
    0,
    1_000_000,
    'revocations overall per sliding minute, across all instances in Kafka mode',
  ),
  guardReserved: setting.int(
    'TOKENWATCH_GUARD_RESERVED_PER_TENANT_PER_MINUTE',
    3,
    0,
    1_000_000,
    'each tenant’s first revocations per sliding minute that the overall limit never refuses (nor counts): other ' +
      'tenants’ floods cannot exhaust them ([response](response.md#budgets-one-tenant-cannot-exhaust-for-another))',
  ),
  guardWindowMs: setting.int(
    'TOKENWATCH_GUARD_WINDOW_MS',
    60_000,
    1000,
    60_000,
    'the guard’s sliding window (a minute); shorter only for drills and tests, and the same on every instance',
  ),
  guardRetrySuppressedMs: setting.int(
    'TOKENWATCH_GUARD_RETRY_SUPPRESSED_MS',
    3_600_000,
    0,
    86_400_000,
    'a suppressed revocation is retried, oldest first, when the guard has room again — for this long after its ' +
      'decision ([response](response.md#suppressed-findings-are-retried)); 0: never retried',
  ),
  guardTopic: setting.str(
    'TOKENWATCH_KAFKA_GUARD_TOPIC',
    'tokenwatch.guard',
    'Kafka mode: the topic (one partition; created if missing) through which all instances share the guard’s ' +
      'budget and revoke each target once ([response](response.md#one-guard-for-all-instances)); only ' +
      'tokenwatch may write it. Empty: each instance guards alone (right for one instance only)',
  ),
  guardWaitMs: setting.int(
    'TOKENWATCH_GUARD_WAIT_MS',
    5000,
    10,
    600_000,
    'Kafka mode: how long a revocation waits for the shared guard’s verdict; past it the finding is ' +
      '`suppressed` (alert only), on-call is paged, and revocations are suppressed at once until the guard answers again',
  ),
  revocationsTopic: setting.str(
    'TOKENWATCH_KAFKA_REVOCATIONS_TOPIC',
    'tokenwatch.revocations',
    'revocation notices for verifiers’ denylists (Kafka mode; in both modes they are also served by `GET /v1/revocations`)',
  ),
  publicUrl: setting.str(
    'TOKENWATCH_PUBLIC_URL',
    '',
    'this service’s public base URL; alerts link to its `/v1/detections`',
    { check: httpUrl },
  ),
  webhookUrl: setting.str(
    'TOKENWATCH_WEBHOOK_URL',
    '',
    'one alert webhook target from the environment (besides the file’s)',
  ),
  webhookSecret: setting.secret(
    'TOKENWATCH_WEBHOOK_SECRET',
    'its HMAC secret (`Tokenwatch-Signature`); empty: unsigned',
  ),
  webhookFormat: setting.str(
    'TOKENWATCH_WEBHOOK_FORMAT',
    'generic',
    'its format: `generic`, `slack`, `alertmanager`',
  ),
  webhookMinSeverity: setting.str(
    'TOKENWATCH_WEBHOOK_MIN_SEVERITY',
    'medium',
    'its minimum severity (`low`, `medium`, `high`, `critical`)',
  ),
  webhookGroupWaitMs: setting.int(
    'TOKENWATCH_WEBHOOK_GROUP_WAIT_MS',
    2000,
    0,
    3_600_000,
    'an incident’s first message waits this long to gather its findings',
  ),
  webhookGroupIntervalMs: setting.int(
    'TOKENWATCH_WEBHOOK_GROUP_INTERVAL_MS',
    60_000,
    0,
    86_400_000,
    'later findings of the same incident are sent together at most this often',
  ),
  webhookTimeoutMs: setting.int(
    'TOKENWATCH_WEBHOOK_TIMEOUT_MS',
    5000,
    50,
    600_000,
    'deadline of one webhook delivery attempt',
  ),
  webhookAllowedCidrs: setting.list(
    'TOKENWATCH_WEBHOOK_ALLOWED_CIDRS',
    [],
    'link-local/metadata ranges webhooks may reach anyway (refused by default)',
  ),
};

export interface ResponseStageSettings {
  /** which auth server adapter revokes */
  adapter: RevokeAdapterName;
  /** the auth API's revocation endpoint ('' = none: with the contract adapter, revocations are recorded as dry_run) */
  revocationUrl: string;
  /** the Keycloak adapter's server, realm and service account, and what a family's revocation deletes */
  keycloak: KeycloakSettings & { familyMode: FamilyMode };
  auth: { token: string; tokenUrl: string; clientId: string; clientSecret: string; scope: string };
  timeoutMs: number;
  retry: { baseMs: number; maxMs: number; giveUpAfterMs: number };
  breaker: { failureThreshold: number; cooldownMs: number };
  guard: {
    perTenantPerMinute: number;
    totalPerMinute: number;
    /** each tenant's first revocations per window that the total limit never refuses */
    reservedPerTenant: number;
    /** the sliding window (a minute; shorter for drills) */
    windowMs: number;
    /** how long after its decision a suppressed revocation is retried when the budget has room (0: never) */
    retrySuppressedMs: number;
    /** Kafka mode: the shared guard's topic ('' = each instance guards alone) */
    topic: string;
    /** how long a claim waits for the shared guard's verdict */
    waitMs: number;
  };
  policy: ResponsePolicy;
  revocationsTopic: string;
  /** where alerts link to (this service's public base URL; '' = no links) */
  publicUrl: string;
  configFile: string;
  webhooks: {
    targets: WebhookTarget[];
    groupWaitMs: number;
    groupIntervalMs: number;
    timeoutMs: number;
    allowedCidrs: string[];
  };
}

/** Reads the response stage's settings (the environment, then the file it names). */
export function readResponseSettings(env: Env, problems: string[]): ResponseStageSettings {
  // the settings file's problems first: it is the bigger mistake, and the rest may follow from it
  const own: string[] = [];
  const s = readTable(RESPONSE_SETTINGS, env, own);
  let file: ResponseSettingsFile = {};
  if (s.configFile !== '') {
    try {
      file = readResponseFile(s.configFile);
    } catch (err) {
      problems.push(`TOKENWATCH_RESPONSE_CONFIG: ${(err as Error).message}`);
    }
  }
  problems.push(...own);
  const keycloak = readKeycloakSettings(
    env,
    problems,
    s.adapter === 'keycloak' ? ['TOKENWATCH_REVOKE_ADAPTER=keycloak'] : [],
  );
  if (s.adapter === 'keycloak' && s.revocationUrl !== '')
    problems.push(
      'TOKENWATCH_AUTH_REVOKE_URL is set but TOKENWATCH_REVOKE_ADAPTER=keycloak revokes through Keycloak’s admin API: ' +
        'unset one of them',
    );
  if (s.revocationUrl !== '' && s.token === '' && s.tokenUrl === '')
    problems.push(
      'TOKENWATCH_AUTH_REVOKE_URL is set but no credentials: set TOKENWATCH_AUTH_TOKEN (a static bearer token) ' +
        'or TOKENWATCH_AUTH_TOKEN_URL with TOKENWATCH_AUTH_CLIENT_ID and TOKENWATCH_AUTH_CLIENT_SECRET (client credentials)',
    );
  if (s.tokenUrl !== '' && (s.clientId === '' || s.clientSecret === ''))
    problems.push(
      'TOKENWATCH_AUTH_TOKEN_URL needs TOKENWATCH_AUTH_CLIENT_ID and TOKENWATCH_AUTH_CLIENT_SECRET',
    );
  try {
    cidrList(s.webhookAllowedCidrs);
  } catch (err) {
    problems.push(`TOKENWATCH_WEBHOOK_ALLOWED_CIDRS: ${(err as Error).message}`);
  }
  const hooks = webhookEntries(file, env);
  problems.push(...hooks.problems.map((p) => `TOKENWATCH_RESPONSE_CONFIG ${p}`));
  if (s.webhookUrl !== '')
    hooks.entries.push({
      name: 'env',
      url: s.webhookUrl,
      format: s.webhookFormat,
      secret: s.webhookSecret,
      minSeverity: s.webhookMinSeverity,
    });
  let targets: WebhookTarget[] = [];
  try {
    targets = parseWebhookTargets(
      hooks.entries,
      'TOKENWATCH_RESPONSE_CONFIG webhooks / TOKENWATCH_WEBHOOK_URL',
    );
  } catch (err) {
    problems.push((err as Error).message);
  }
  return {
    adapter: s.adapter,
    revocationUrl: s.revocationUrl,
    keycloak: { ...keycloak, familyMode: s.keycloakFamily },
    auth: {
      token: s.token,
      tokenUrl: s.tokenUrl,
      clientId: s.clientId,
      clientSecret: s.clientSecret,
      scope: s.scope,
    },
    timeoutMs: s.timeoutMs,
    retry: { baseMs: s.retryBaseMs, maxMs: s.retryMaxMs, giveUpAfterMs: s.giveUpSeconds * 1000 },
    breaker: { failureThreshold: s.breakerFailures, cooldownMs: s.breakerCooldownMs },
    guard: {
      perTenantPerMinute: s.guardPerTenant,
      totalPerMinute: s.guardTotal,
      reservedPerTenant: s.guardReserved,
      windowMs: s.guardWindowMs,
      retrySuppressedMs: s.guardRetrySuppressedMs,
      topic: s.guardTopic,
      waitMs: s.guardWaitMs,
    },
    policy: responsePolicy(
      file,
      s.dryRun.filter((n) => REGISTRY.has(n)),
      s.deviceRevokeRequiresStrong,
    ),
    revocationsTopic: s.revocationsTopic,
    publicUrl: s.publicUrl,
    configFile: s.configFile,
    webhooks: {
      targets,
      groupWaitMs: s.webhookGroupWaitMs,
      groupIntervalMs: s.webhookGroupIntervalMs,
      timeoutMs: s.webhookTimeoutMs,
      allowedCidrs: s.webhookAllowedCidrs,
    },
  };
}
