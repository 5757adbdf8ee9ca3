#!/usr/bin/env node
/**
 * tokenwatch command line (`tokenwatch --help` lists the commands; service/cli-usage.ts holds the
 * grammar and the usage texts):
 *   tokenwatch serve      run the service (default)
 *   tokenwatch migrate    apply the ClickHouse migrations and exit
 *   tokenwatch schema     print the event contract v1 as JSON Schema
 *   tokenwatch backtest   run stored events through the detectors and report what would have fired
 *   tokenwatch keycloak-poll  report a Keycloak realm's stored events (instead of the listener jar)
 */
import { writeFileSync } from 'node:fs';
import { TokenEvent } from '../contract/event-v1.ts';
import { backtest, renderBacktest } from '../detectors/backtest/backtest.ts';
import { detectorSettings, readSettingsFile } from '../detectors/settings.ts';
import { parseEventTime } from '../ingest/pipeline/validate.ts';
import { KeycloakEventPoller } from '../ingest/sources/keycloak/poller.ts';
import { KEYCLOAK_POLL_SETTINGS } from '../ingest/sources/keycloak/settings.ts';
import { migrate } from '../platform/clickhouse/migrate.ts';
import { readKeycloakSettings } from '../platform/keycloak/settings.ts';
import { createLogger } from '../platform/log.ts';
import { readTable } from '../platform/settings.ts';
import { COMMANDS, invocation, type OptionValues } from './cli-usage.ts';
import { ConfigError, loadConfig } from './config.ts';
import { SERVICE_SETTINGS } from './settings.ts';
import { connectClickHouse, schemaOptions, startService } from './start.ts';

class UsageError extends Error {}

function timeArg(name: string, raw: string | undefined): number {
  if (raw === undefined) throw new UsageError(`--${name} is required`);
  const ms = /^\d+$/.test(raw) ? parseEventTime(Number(raw)) : parseEventTime(raw);
  if (ms === undefined)
    throw new UsageError(`--${name} ${JSON.stringify(raw)} is not an RFC 3339 time or epoch ms`);
  return ms;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

function durationArg(name: string, raw: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(raw);
  if (m === null)
    throw new UsageError(`--${name} ${JSON.stringify(raw)} must be seconds or a number with s, m, h or d`);
  return Number(m[1]) * UNITS[m[2] || 's']!;
}

/** A string option's value (parseArgs gives strings for every backtest option). */
const str = (values: OptionValues, name: string) => {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
};

async function runBacktest(opts: OptionValues): Promise<number> {
  const values = {
    from: str(opts, 'from'),
    to: str(opts, 'to'),
    config: str(opts, 'config'),
    warmup: str(opts, 'warmup') ?? '1h',
    samples: str(opts, 'samples') ?? '3',
    format: str(opts, 'format') ?? 'markdown',
    output: str(opts, 'output'),
  };
  const fromMs = timeArg('from', values.from);
  const toMs = timeArg('to', values.to);
  if (fromMs >= toMs) throw new UsageError('--from must be before --to');
  if (values.format !== 'markdown' && values.format !== 'json')
    throw new UsageError('--format must be markdown or json');
  const samples = Number(values.samples);
  if (!Number.isInteger(samples) || samples < 0) throw new UsageError('--samples must be a whole number');
  const config = loadConfig();
  const settings =
    values.config === undefined ? config.detect.settings : detectorSettings(readSettingsFile(values.config));
  const log = createLogger(config.service.logLevel, 2);
  const { client } = await connectClickHouse(config, log, 30_000);
  try {
    log.info(
      { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() },
      'backtest: reading stored events',
    );
    const report = await backtest(
      client,
      config.clickhouse.database,
      {
        fromMs,
        toMs,
        warmupS: durationArg('warmup', values.warmup),
        settings,
        samples,
        maxKeys: config.detect.maxKeys,
      },
      log,
    );
    const text = values.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderBacktest(report);
    if (values.output === undefined) process.stdout.write(text);
    else {
      writeFileSync(values.output, text);
      log.info({ output: values.output }, 'backtest report written');
    }
    return 0;
  } finally {
    await client.close();
  }
}

/** `tokenwatch keycloak-poll`: its own settings only (it needs neither ClickHouse nor Kafka). */
async function runKeycloakPoll(opts: OptionValues): Promise<number> {
  const problems: string[] = [];
  const keycloak = readKeycloakSettings(process.env, problems, ['tokenwatch keycloak-poll']);
  const settings = readTable(KEYCLOAK_POLL_SETTINGS, process.env, problems);
  const level = SERVICE_SETTINGS.logLevel.read(process.env, problems);
  if (settings.apiKey === '')
    problems.push(
      'tokenwatch keycloak-poll needs TOKENWATCH_KEYCLOAK_POLL_API_KEY (a key of TOKENWATCH_API_KEYS)',
    );
  if (problems.length > 0) throw new ConfigError(problems);
  const log = createLogger(level).child({ component: 'keycloak-poller', realm: keycloak.realm });
  const poller = new KeycloakEventPoller(keycloak, settings, log);
  if (opts['once'] === true) {
    try {
      const r = await poller.pollOnce();
      log.info({ fetched: r.fetched, reported: r.reported, skipped: r.skipped }, 'Keycloak events polled');
      return 0;
    } catch (err) {
      log.error({ err: (err as Error).message }, 'Keycloak poll failed');
      return 1;
    }
  }
  const stop = () => poller.stop();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  log.info({ intervalMs: settings.intervalMs, stateFile: settings.stateFile }, 'polling Keycloak events');
  await poller.run();
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const call = invocation(argv);
  if (call.kind === 'help' || call.kind === 'version') {
    console.log(call.text);
    return 0;
  }
  if (call.kind === 'error') {
    console.error(`tokenwatch: ${call.message}\n\n${call.usage}`);
    return 2;
  }
  const { command } = call;
  if (command === 'backtest') return runBacktest(call.values);
  if (command === 'keycloak-poll') return runKeycloakPoll(call.values);
  if (command === 'schema') {
    process.stdout.write(
      `${JSON.stringify({ $schema: 'https://json-schema.org/draft/2020-12/schema', ...TokenEvent }, null, 2)}\n`,
    );
    return 0;
  }
  const config = loadConfig();
  const log = createLogger(config.service.logLevel);
  if (command === 'migrate') {
    const { client, features } = await connectClickHouse(config, log, 30_000);
    const report = await migrate(client, schemaOptions(config), features, log);
    log.info(
      { server: features.version, applied: report.applied, alreadyApplied: report.alreadyApplied },
      'migrations done',
    );
    await client.close();
    return 0;
  }
  // The handlers come before the start: the HTTP API may answer (and take events) before the
  // start has finished, and a signal then must stop the service cleanly, not end the process.
  let signals = 0;
  let starting = true;
  let stopRequested: () => void = () => {};
  const stopping = new Promise<void>((resolve) => {
    stopRequested = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: exiting without waiting for buffered rows');
      process.exit(130);
    }
    log.info(
      { signal },
      starting
        ? 'signal received while starting: stopping once started (a second signal exits now)'
        : 'signal received',
    );
    stopRequested();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const service = await startService(config, log);
  starting = false;
  await stopping;
  await service.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    if (err instanceof UsageError) {
      console.error(`tokenwatch backtest: ${err.message}\n\n${COMMANDS['backtest']!.usage}`);
      process.exit(2);
    }
    if (err instanceof ConfigError) console.error(`tokenwatch: ${err.message}\nSee docs/configuration.md.`);
    else
      console.error(
        `tokenwatch: ${process.env['TOKENWATCH_LOG_LEVEL'] === 'debug' ? (err.stack ?? err.message) : err.message}`,
      );
    process.exit(1);
  },
);
