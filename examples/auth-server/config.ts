/**
 * The reference auth server's configuration: environment variables → a typed, validated config.
 * Every variable and its default is listed in README.md; loadAuthConfig throws one error naming
 * every bad variable at once.
 */

export type SigningAlg = 'EdDSA' | 'ES256';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface User {
  name: string;
  password: string;
}

export interface Client {
  id: string;
  secret: string;
  scopes: string[];
}

export interface AuthConfig {
  host: string;
  /** 0: any free port */
  port: number;
  logLevel: LogLevel;
  /** fastify trustProxy: true, false, or a comma list of proxy addresses/CIDRs */
  trustProxy: boolean | string;
  /** undefined: http://127.0.0.1:<listening port> */
  issuer: string | undefined;
  audience: string;
  signingAlg: SigningAlg;
  /** 0: keys rotate only through POST /admin/keys/rotate */
  keyRotationSeconds: number;
  keyOverlapSeconds: number;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  reuseDetection: boolean;
  users: User[];
  /** any username logs in with any non-empty password (users listed in `users` still need theirs) */
  allowAnyUser: boolean;
  clients: Client[];
  /** empty: only client-credentials tokens with scope `revoke` may call /v1/revocations */
  revocationToken: string;
  /** empty: the /admin endpoints do not exist */
  adminToken: string;
  tenant: string;
  source: string;
  /** empty: no events are reported */
  tokenwatchUrl: string;
  tokenwatchApiKey: string;
  /** non-empty: events go to tokenwatch's Kafka topic instead of its HTTP API */
  tokenwatchKafkaBrokers: string[];
  tokenwatchKafkaTopic: string;
}

export class AuthConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid auth server configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'AuthConfigError';
    this.problems = problems;
  }
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const SIGNING_ALGS: readonly SigningAlg[] = ['EdDSA', 'ES256'];

/** Reads the AUTH_* variables of `env`; throws AuthConfigError listing every problem. */
export function loadAuthConfig(env: Record<string, string | undefined> = process.env): AuthConfig {
  const problems: string[] = [];
  const str = (name: string, fallback: string): string => env[name]?.trim() || fallback;
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = str(name, '');
    if (raw === '') return fallback;
    const n = Number(raw);
    if (Number.isInteger(n) && n >= min && n <= max) return n;
    problems.push(`${name}=${JSON.stringify(raw)} must be an integer from ${min} to ${max}`);
    return fallback;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = str(name, String(fallback)).toLowerCase();
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    problems.push(`${name}=${JSON.stringify(env[name])} must be true or false`);
    return fallback;
  };
  const oneOf = <T extends string>(name: string, fallback: T, allowed: readonly T[]): T => {
    const raw = str(name, fallback);
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${name}=${JSON.stringify(raw)} must be one of ${allowed.join(', ')}`);
    return fallback;
  };
  const list = (name: string, fallback: string): string[] =>
    str(name, fallback)
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
  const url = (name: string): string => {
    const raw = str(name, '').replace(/\/+$/, '');
    if (raw !== '' && !/^https?:\/\/[^/\s]+/.test(raw)) {
      problems.push(`${name}=${JSON.stringify(raw)} must be an http(s) URL`);
    }
    return raw;
  };

  const users: User[] = [];
  for (const entry of list('AUTH_USERS', 'demo:demo')) {
    const [name = '', password = '', ...rest] = entry.split(':');
    if (name === '' || password === '' || rest.length > 0) {
      problems.push(`AUTH_USERS entry ${JSON.stringify(entry)} must be name:password`);
    } else users.push({ name, password });
  }

  const clients: Client[] = [];
  for (const entry of list('AUTH_CLIENTS', '')) {
    const [id = '', secret = '', scope = '', ...rest] = entry.split(':');
    const scopes = scope.split(' ').filter((s) => s !== '');
    if (id === '' || secret === '' || scopes.length === 0 || rest.length > 0) {
      problems.push(
        `AUTH_CLIENTS entry for ${JSON.stringify(id || '(no id)')} must be id:secret:scope1 scope2 (at least one scope)`,
      );
    } else clients.push({ id, secret, scopes });
  }

  const trustProxyRaw = str('AUTH_TRUST_PROXY', 'false');
  const tenant = str('AUTH_TENANT', 'default');
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(tenant)) {
    problems.push(`AUTH_TENANT=${JSON.stringify(tenant)} must be 1-64 letters, digits, '.', '_' or '-'`);
  }
  const issuer = url('AUTH_ISSUER');

  const config: AuthConfig = {
    host: str('AUTH_HOST', '127.0.0.1'),
    port: int('AUTH_PORT', 8090, 0, 65535),
    logLevel: oneOf('AUTH_LOG_LEVEL', 'info', LOG_LEVELS),
    trustProxy: trustProxyRaw === 'true' ? true : trustProxyRaw === 'false' ? false : trustProxyRaw,
    issuer: issuer === '' ? undefined : issuer,
    audience: str('AUTH_AUDIENCE', 'tokenwatch-demo-api'),
    signingAlg: oneOf('AUTH_SIGNING_ALG', 'EdDSA', SIGNING_ALGS),
    keyRotationSeconds: int('AUTH_KEY_ROTATION_SECONDS', 0, 0, 31_536_000),
    keyOverlapSeconds: int('AUTH_KEY_OVERLAP_SECONDS', 1200, 0, 31_536_000),
    accessTtlSeconds: int('AUTH_ACCESS_TTL_SECONDS', 900, 1, 86_400),
    refreshTtlSeconds: int('AUTH_REFRESH_TTL_SECONDS', 1_209_600, 1, 31_536_000),
    reuseDetection: bool('AUTH_REUSE_DETECTION', false),
    users,
    allowAnyUser: bool('AUTH_ALLOW_ANY_USER', false),
    clients,
    revocationToken: str('AUTH_REVOCATION_TOKEN', ''),
    adminToken: str('AUTH_ADMIN_TOKEN', ''),
    tenant,
    source: str('AUTH_SOURCE', 'auth-server'),
    tokenwatchUrl: url('AUTH_TOKENWATCH_URL'),
    tokenwatchApiKey: str('AUTH_TOKENWATCH_API_KEY', ''),
    tokenwatchKafkaBrokers: str('AUTH_TOKENWATCH_KAFKA_BROKERS', '')
      .split(',')
      .map((b) => b.trim())
      .filter((b) => b !== ''),
    tokenwatchKafkaTopic: str('AUTH_TOKENWATCH_KAFKA_TOPIC', 'tokenwatch.events'),
  };
  if (config.keyRotationSeconds > 0 && config.keyOverlapSeconds < config.accessTtlSeconds) {
    problems.push(
      `AUTH_KEY_OVERLAP_SECONDS (${config.keyOverlapSeconds}) must be at least AUTH_ACCESS_TTL_SECONDS ` +
        `(${config.accessTtlSeconds}) when keys rotate on a timer, or tokens fail verification before they expire`,
    );
  }
  if (config.tokenwatchUrl !== '' && config.tokenwatchApiKey === '') {
    problems.push(
      'AUTH_TOKENWATCH_API_KEY must be set when AUTH_TOKENWATCH_URL is (tokenwatch refuses anonymous events)',
    );
  }
  if (problems.length > 0) throw new AuthConfigError(problems);
  return config;
}
