/**
 * The configuration, composed: every stage (and the platform) reads and validates its own section
 * from its own table of environment variables (each `settings.ts`); this module puts the sections
 * together and raises one error listing every problem of all of them. The configuration page,
 * docs/configuration.md, is generated from the same tables (`npm run docs`).
 */
import { DETECT_SETTINGS, type DetectStageSettings, readDetectSettings } from '../detectors/settings.ts';
import { IP_INTEL_SETTINGS } from '../ingest/ipintel/settings.ts';
import {
  BATCH_SETTINGS,
  DOOR_SETTINGS,
  INGEST_KAFKA_SETTINGS,
  type IngestSettings,
  LIMITS_SETTINGS,
  readIngestSettings,
} from '../ingest/settings.ts';
import { KEYCLOAK_POLL_SETTINGS } from '../ingest/sources/keycloak/settings.ts';
import { CLICKHOUSE_SETTINGS, type ClickHouseSettings } from '../platform/clickhouse/settings.ts';
import type { Env } from '../platform/env.ts';
import type { ApiKey } from '../platform/http/api-keys.ts';
import { KAFKA_SETTINGS, type KafkaSettings } from '../platform/kafka/settings.ts';
import { KEYCLOAK_SETTINGS } from '../platform/keycloak/settings.ts';
import { readTable, type SettingsSection } from '../platform/settings.ts';
import { RESPONSE_SETTINGS, type ResponseStageSettings, readResponseSettings } from '../response/settings.ts';
import { readServiceSettings, SERVICE_SETTINGS, type ServiceSettings } from './settings.ts';

export type { ApiKey };

export interface Config {
  service: ServiceSettings;
  clickhouse: ClickHouseSettings;
  /** how to reach Kafka; empty brokers: single-process mode (HTTP events go straight to the pipeline) */
  kafka: KafkaSettings;
  ingest: IngestSettings;
  detect: DetectStageSettings;
  response: ResponseStageSettings;
}

export class ConfigError extends Error {
  readonly code = 'ERR_TOKENWATCH_CONFIG';
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Reads and validates the configuration; throws ConfigError listing every problem at once. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const config: Config = {
    service: readServiceSettings(env, problems),
    clickhouse: readTable(CLICKHOUSE_SETTINGS, env, problems),
    kafka: readTable(KAFKA_SETTINGS, env, problems),
    ingest: readIngestSettings(env, problems),
    detect: readDetectSettings(env, problems),
    response: readResponseSettings(env, problems),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The sections of the configuration page, in its order. */
export const CONFIGURATION: SettingsSection[] = [
  {
    title: 'Service',
    about: 'Where tokenwatch listens, its keys, its HTTP server, `/metrics` and readiness',
    table: SERVICE_SETTINGS,
  },
  { title: 'ClickHouse', about: 'The database, its retention and migrations', table: CLICKHOUSE_SETTINGS },
  { title: 'Kafka', about: 'The brokers (none: single-process mode)', table: KAFKA_SETTINGS },
  {
    title: 'Ingest: topics',
    about: 'What the ingest consumes and publishes in Kafka mode',
    table: INGEST_KAFKA_SETTINGS,
  },
  { title: 'Ingest: batching', about: 'Rows into ClickHouse', table: BATCH_SETTINGS },
  { title: 'Ingest: limits', about: 'What one event and one request may be', table: LIMITS_SETTINGS },
  {
    title: 'Ingest: the HTTP door',
    about: 'Per-request, per-key and per-tenant bounds ([operations](operations.md#limits))',
    table: DOOR_SETTINGS,
  },
  {
    title: 'Ingest: IP intelligence',
    about:
      'Where the place, autonomous system and network kind of an address come from (none set: geoip-lite’s bundled data; [ingest](ingest.md#ip-intelligence))',
    table: IP_INTEL_SETTINGS,
  },
  {
    title: 'Detection',
    about: 'The detectors’ stage (thresholds live in the settings file: [detection](detection.md))',
    table: DETECT_SETTINGS,
  },
  {
    title: 'Response',
    about: 'Revocation, the blast-radius guard, notices and alert webhooks',
    table: RESPONSE_SETTINGS,
  },
  {
    title: 'Keycloak',
    about:
      'Keycloak’s admin API, for the Keycloak revocation adapter and event poller ([auth servers](auth-servers.md))',
    table: KEYCLOAK_SETTINGS,
  },
  {
    title: 'Keycloak: the event poller',
    about:
      '`tokenwatch keycloak-poll`, for realms without the listener jar ([auth servers](auth-servers.md#the-event-poller))',
    table: KEYCLOAK_POLL_SETTINGS,
  },
];
