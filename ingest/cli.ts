#!/usr/bin/env node
import { migrate } from './clickhouse/migrate.ts';
import { ConfigError, loadConfig } from './config.ts';
import { TokenEvent } from './contract/event-v1.ts';
import { createLogger } from './log.ts';
/**
 * tokenwatch command line:
 *   tokenwatch serve     run the ingest service (default)
 *   tokenwatch migrate   apply the ClickHouse migrations and exit
 *   tokenwatch schema    print the event contract v1 as JSON Schema
 */
import { connectClickHouse, schemaOptions, startService } from './service.ts';

const USAGE = 'usage: tokenwatch [serve|migrate|schema]';

async function main(command: string): Promise<number> {
  if (command === 'schema') {
    process.stdout.write(
      `${JSON.stringify({ $schema: 'https://json-schema.org/draft/2020-12/schema', ...TokenEvent }, null, 2)}\n`,
    );
    return 0;
  }
  if (command !== 'serve' && command !== 'migrate') {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig();
  const log = createLogger(config.logLevel);
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
  const service = await startService(config, log);
  let signals = 0;
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        log.warn({ signal }, 'second signal: exiting without waiting for buffered rows');
        process.exit(130);
      }
      log.info({ signal }, 'signal received');
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await service.close();
  return 0;
}

main(process.argv[2] ?? 'serve').then(
  (code) => process.exit(code),
  (err: Error) => {
    if (err instanceof ConfigError)
      console.error(`tokenwatch: ${err.message}\nSee README.md "Configuration".`);
    else
      console.error(
        `tokenwatch: ${process.env['TOKENWATCH_LOG_LEVEL'] === 'debug' ? (err.stack ?? err.message) : err.message}`,
      );
    process.exit(1);
  },
);
