/**
 * The demo's attach mode: `node tools/demo/demo.ts --attach` (or DEMO_ATTACH=true) starts nothing — no
 * local stack, no auth server, no tokenwatch — and drives services that already run (the Docker
 * Compose stack's, or any other), found through the DEMO_* variables read here. Every variable and
 * its default is in docs/configuration.md (the demo's table). Parsing only: no I/O.
 */

import { type Env, envReader } from '../../platform/env.ts';

export interface AttachOptions {
  /** tokenwatch's base URL */
  tokenwatchUrl: string;
  /** the reference auth server's base URL; also the issuer the orders API expects (its AUTH_ISSUER) */
  authUrl: string;
  brokers: string[];
  clickhouse: { url: string; username: string; password: string; database: string };
  /** tokenwatch's events topic (one of its TOKENWATCH_KAFKA_TOPICS) */
  eventsTopic: string;
  /** tokenwatch's TOKENWATCH_KAFKA_REVOCATIONS_TOPIC, followed by the orders API's denylist */
  revocationsTopic: string;
  /** an event API key of tenant `default` (TOKENWATCH_API_KEYS) */
  apiKey: string;
  /** a read key (TOKENWATCH_READ_API_KEYS), only shown in the "where to look" lines; '' = none */
  readKey: string;
  /** the auth server's AUTH_ADMIN_TOKEN: the demo counts revocations through its /admin API */
  authAdminToken: string;
  /** the signed-webhook receiver, listening on 0.0.0.0:port; undefined = none */
  webhook: { port: number; secret: string } | undefined;
  /** how long to wait for the services to answer before giving up */
  waitSeconds: number;
}

/** Whether attach mode is asked for: the --attach flag, or DEMO_ATTACH. */
export function attachRequested(flag: boolean | undefined, env: Env): boolean {
  if (flag === true) return true;
  const { problems, bool } = envReader(env);
  const attach = bool('DEMO_ATTACH', false);
  if (problems.length > 0) throw new Error(problems.join('; '));
  return attach;
}

/**
 * The attach settings from `env`; throws one Error naming every bad or missing variable. The URL
 * defaults are where `docker compose up` publishes the services on the host.
 */
export function attachOptions(env: Env): AttachOptions {
  const { problems, str, int, list } = envReader(env);
  const required = (name: string, what: string): string => {
    const value = str(name, '');
    if (value === '') problems.push(`${name} is required in attach mode: ${what}`);
    return value;
  };
  const url = (name: string, fallback: string): string => {
    const value = str(name, fallback).replace(/\/+$/, '');
    if (!/^https?:\/\/[^/\s]+$/.test(value))
      problems.push(
        `${name}=${JSON.stringify(value)} must be an http(s) base URL (no path), e.g. ${fallback}`,
      );
    return value;
  };

  const brokers = list('DEMO_KAFKA_BROKERS', '127.0.0.1:29092');
  for (const b of brokers)
    if (!/^[^\s:]+:\d{1,5}$/.test(b))
      problems.push(`DEMO_KAFKA_BROKERS entry ${JSON.stringify(b)} must be host:port`);
  if (brokers.length === 0) problems.push('DEMO_KAFKA_BROKERS must name at least one broker (host:port)');

  const database = str('DEMO_CLICKHOUSE_DATABASE', 'tokenwatch');
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database))
    problems.push(`DEMO_CLICKHOUSE_DATABASE=${JSON.stringify(database)} must be a plain identifier`);

  const webhookPort = int('DEMO_WEBHOOK_PORT', 0, 1, 65535);
  const webhookSecret = str('DEMO_WEBHOOK_SECRET', '');
  if (webhookPort !== 0 && webhookSecret === '')
    problems.push(
      "DEMO_WEBHOOK_SECRET is required with DEMO_WEBHOOK_PORT: the receiver checks every alert's signature (tokenwatch's TOKENWATCH_WEBHOOK_SECRET)",
    );

  const options: AttachOptions = {
    tokenwatchUrl: url('DEMO_TOKENWATCH_URL', 'http://127.0.0.1:8080'),
    authUrl: url('DEMO_AUTH_URL', 'http://127.0.0.1:8090'),
    brokers,
    clickhouse: {
      url: url('DEMO_CLICKHOUSE_URL', 'http://127.0.0.1:8123'),
      username: str('DEMO_CLICKHOUSE_USER', 'default'),
      password: env['DEMO_CLICKHOUSE_PASSWORD'] ?? '',
      database,
    },
    eventsTopic: str('DEMO_EVENTS_TOPIC', 'tokenwatch.events'),
    revocationsTopic: str('DEMO_REVOCATIONS_TOPIC', 'tokenwatch.revocations'),
    apiKey: required(
      'DEMO_API_KEY',
      "an event API key of tenant default (one of tokenwatch's TOKENWATCH_API_KEYS)",
    ),
    readKey: str('DEMO_READ_KEY', ''),
    authAdminToken: required('DEMO_AUTH_ADMIN_TOKEN', "the auth server's AUTH_ADMIN_TOKEN"),
    webhook: webhookPort === 0 ? undefined : { port: webhookPort, secret: webhookSecret },
    waitSeconds: int('DEMO_WAIT_SECONDS', 300, 1, 86_400),
  };
  if (problems.length > 0) throw new Error(`invalid demo attach settings:\n  - ${problems.join('\n  - ')}`);
  return options;
}
