/**
 * The service's own settings: where it listens, logging, the API keys, the HTTP server's timeouts,
 * where /metrics is served, and readiness.
 */
import type { Env } from '../platform/env.ts';
import { type ApiKey, parseApiKeyEntry } from '../platform/http/api-keys.ts';
import { LOG_LEVELS } from '../platform/log.ts';
import { readTable, setting, type ValuesOf } from '../platform/settings.ts';

/** `tenant:key,…` (with `roles`: `tenant:key:role` too) with keys of at least 16 characters. */
const keyList = (env: string, doc: string, roles: boolean) =>
  setting.custom<ApiKey[]>(env, '(none)', doc, (e, problems) => {
    const parsed: ApiKey[] = [];
    for (const entry of setting.list(env, [], '').read(e, problems)) {
      const r = parseApiKeyEntry(entry, env, { roles });
      if (r.ok) parsed.push(r.key);
      else problems.push(r.problem);
    }
    return parsed;
  });

export const SERVICE_SETTINGS = {
  host: setting.str('TOKENWATCH_HOST', '0.0.0.0', 'HTTP listen address'),
  port: setting.int('TOKENWATCH_PORT', 8080, 0, 65535, 'HTTP port'),
  trustProxy: setting.custom<boolean | string>(
    'TOKENWATCH_TRUST_PROXY',
    '`false`',
    'fastify `trustProxy`: `true`, or a comma-separated list of proxy addresses/CIDRs whose `X-Forwarded-For` is believed',
    (env) => {
      const raw = env['TOKENWATCH_TRUST_PROXY']?.trim() ?? '';
      if (raw === 'true') return true;
      if (raw === 'false' || raw === '') return false;
      return raw; // a comma-separated list of addresses/CIDRs, as fastify takes it
    },
  ),
  logLevel: setting.oneOf(
    'TOKENWATCH_LOG_LEVEL',
    'info',
    LOG_LEVELS,
    LOG_LEVELS.map((l) => `\`${l}\``).join(', '),
  ),
  apiKeys: keyList(
    'TOKENWATCH_API_KEYS',
    '`tenant:key:role,…` with role `verifier` (may report `verification` events only) or `auth-server` (every type); keys of at least 16 characters. A key without a role (`tenant:key`) may report every type, with a start-up warning (gauge `tokenwatch_api_keys_without_role`). Without keys, HTTP ingest refuses everything. A key also reads its tenant’s revocation notices (`GET /v1/revocations`)',
    true,
  ),
  readApiKeys: keyList(
    'TOKENWATCH_READ_API_KEYS',
    'keys for `GET /v1/detections` and `GET /v1/revocations`, `tenant:key,…`; tenant `*` reads every tenant',
    false,
  ),
  denylistApiKeys: keyList(
    'TOKENWATCH_DENYLIST_API_KEYS',
    'denylist keys: `GET /v1/revocations` and nothing else, answered with notices v2 (ids hashed: the reader learns no subject or token id), `tenant:key,…`; tenant `*` reads every tenant. Give verifiers these rather than an event key',
    false,
  ),
  requestTimeoutMs: setting.int(
    'TOKENWATCH_HTTP_REQUEST_TIMEOUT_MS',
    30_000,
    1000,
    3_600_000,
    'longest a request may take to arrive, body included (408)',
  ),
  connectionTimeoutMs: setting.int(
    'TOKENWATCH_HTTP_CONNECTION_TIMEOUT_MS',
    60_000,
    1000,
    3_600_000,
    'an idle socket is closed after this',
  ),
  keepAliveTimeoutMs: setting.int(
    'TOKENWATCH_HTTP_KEEP_ALIVE_TIMEOUT_MS',
    5000,
    100,
    3_600_000,
    'a keep-alive socket waits this long for the next request',
  ),
  shutdownGraceMs: setting.int(
    'TOKENWATCH_HTTP_SHUTDOWN_GRACE_MS',
    5000,
    0,
    600_000,
    'at shutdown, connections still open after this are closed',
  ),
  metricsKey: setting.custom(
    'TOKENWATCH_METRICS_KEY',
    '(none)',
    'bearer key `/metrics` asks for (at least 16 characters); none: open',
    (env, problems) => {
      const key = env['TOKENWATCH_METRICS_KEY']?.trim() ?? '';
      if (key !== '' && key.length < 16)
        problems.push('TOKENWATCH_METRICS_KEY must be at least 16 characters (or empty: /metrics open)');
      return key;
    },
  ),
  metricsPort: setting.int(
    'TOKENWATCH_METRICS_PORT',
    0,
    0,
    65535,
    'serve `/metrics` on a listener of its own on this port (0: on `TOKENWATCH_PORT`)',
  ),
  metricsHost: setting.str(
    'TOKENWATCH_METRICS_HOST',
    (env) => env['TOKENWATCH_HOST']?.trim() || '0.0.0.0',
    'the address of that listener',
    { shows: '`TOKENWATCH_HOST`' },
  ),
  readyMaxBacklogMs: setting.int(
    'TOKENWATCH_READY_MAX_BACKLOG_MS',
    30_000,
    1000,
    86_400_000,
    '`/readyz` says not ready while a row has waited longer than this to be stored',
  ),
};

export type ServiceSettings = ValuesOf<typeof SERVICE_SETTINGS>;

export function readServiceSettings(env: Env, problems: string[]): ServiceSettings {
  const s = readTable(SERVICE_SETTINGS, env, problems);
  if (s.metricsPort !== 0 && s.metricsPort === s.port)
    problems.push(
      `TOKENWATCH_METRICS_PORT (${s.metricsPort}) must differ from TOKENWATCH_PORT, or be 0 to serve /metrics on it`,
    );
  return s;
}
