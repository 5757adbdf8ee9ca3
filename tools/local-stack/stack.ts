/**
 * `npm run stack` / `npm run stack:down` / `npm run stack -- status`: the local infrastructure
 * (a real ClickHouse and a real single-node Kafka) on loopback, data under .state/stack.
 * Writes the addresses to .state/stack.env, which the service, the demo and the tests read.
 * A start that fails (or is interrupted with Ctrl-C) stops what it started and says what to do.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { clickHousePidCheck, pingClickHouse, stopClickHouse } from './clickhouse-server.ts';
import { DEFAULT_KAFKA_VERSION } from './kafka-jars.ts';
import { kafkaPidCheck, stopKafka } from './kafka-server.ts';
import { STACK_ENV_FILE, STATE_DIR } from './paths.ts';
import type { PidCheck } from './pid-file.ts';
import type { StopResult } from './process.ts';
import { startLocalServers } from './servers.ts';
import { StartError } from './start-error.ts';

/** Whether the local stack is up already (its addresses written and its ClickHouse answering). */
export async function stackRunning(): Promise<boolean> {
  return (
    existsSync(STACK_ENV_FILE) &&
    (await pingClickHouse(`http://127.0.0.1:${STACK.clickhouseHttpPort}`).catch(() => false))
  );
}

const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

export const STACK = {
  dir: `${STATE_DIR}/stack`,
  clickhouseHttpPort: port('TOKENWATCH_STACK_CLICKHOUSE_HTTP_PORT', 18123),
  clickhouseTcpPort: port('TOKENWATCH_STACK_CLICKHOUSE_TCP_PORT', 19000),
  kafkaPort: port('TOKENWATCH_STACK_KAFKA_PORT', 19092),
  kafkaControllerPort: port('TOKENWATCH_STACK_KAFKA_CONTROLLER_PORT', 19093),
  kafkaVersion: process.env['TOKENWATCH_STACK_KAFKA_VERSION'] ?? DEFAULT_KAFKA_VERSION,
};

/** What the stack's failure messages advise besides the service's own advice. */
function stackAdvice(): string[] {
  return [
    `ports in use? choose others: TOKENWATCH_STACK_CLICKHOUSE_HTTP_PORT (${STACK.clickhouseHttpPort}), ` +
      `TOKENWATCH_STACK_CLICKHOUSE_TCP_PORT (${STACK.clickhouseTcpPort}), TOKENWATCH_STACK_KAFKA_PORT ` +
      `(${STACK.kafkaPort}), TOKENWATCH_STACK_KAFKA_CONTROLLER_PORT (${STACK.kafkaControllerPort})`,
    'a slow machine? give it longer: TOKENWATCH_STACK_START_TIMEOUT_SECONDS, TOKENWATCH_STACK_STALL_SECONDS',
    'then run the command again: this attempt stopped what it had started (npm run stack -- status shows what runs)',
  ];
}

/**
 * Starts the local stack (or finds it running) and writes its addresses to .state/stack.env.
 * On failure (or `signal`) what it started is stopped again and the error says what to do.
 */
export interface StackStart {
  /** the addresses, as written to .state/stack.env */
  env: Record<string, string>;
  /** which servers this call started (false: it was running already) */
  started: StackParts;
}

export interface StackParts {
  clickhouse: boolean;
  kafka: boolean;
}

export async function stackUp(
  log: (msg: string) => void = console.error,
  signal?: AbortSignal,
): Promise<StackStart> {
  const started = Date.now();
  mkdirSync(STACK.dir, { recursive: true });
  const { clickhouse: ch, kafka } = await startLocalServers({
    clickhouse: {
      dir: `${STACK.dir}/clickhouse`,
      httpPort: STACK.clickhouseHttpPort,
      tcpPort: STACK.clickhouseTcpPort,
    },
    kafka: {
      dir: `${STACK.dir}/kafka`,
      port: STACK.kafkaPort,
      controllerPort: STACK.kafkaControllerPort,
      version: STACK.kafkaVersion,
    },
    log,
    signal,
  }).catch((err: unknown) => {
    throw err instanceof StartError ? err.withAdvice(stackAdvice()) : err;
  });
  const env = { TOKENWATCH_CLICKHOUSE_URL: ch.url, TOKENWATCH_KAFKA_BROKERS: kafka.brokers };
  writeFileSync(
    STACK_ENV_FILE,
    `${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  );
  log(
    `stack up in ${((Date.now() - started) / 1000).toFixed(1)} s: ClickHouse ${ch.url}, Kafka ${STACK.kafkaVersion} ${kafka.brokers}`,
  );
  log(`addresses written to ${STACK_ENV_FILE}; logs in ${STACK.dir}`);
  return { env, started: { clickhouse: ch.startedNow, kafka: kafka.startedNow } };
}

const stopped = (r: StopResult) => (r.stopped ? 'stopped' : `not stopped: ${r.note}`);

/** Stops the stack, or only the parts `only` names (what one start started), keeping the others. */
export async function stackDown(
  log: (msg: string) => void = console.error,
  only: StackParts = { clickhouse: true, kafka: true },
) {
  const kept: StopResult = { stopped: false, note: 'kept: it ran before this start' };
  const [ch, kafka] = await Promise.all([
    only.clickhouse ? stopClickHouse(`${STACK.dir}/clickhouse`) : kept,
    only.kafka ? stopKafka(`${STACK.dir}/kafka`) : kept,
  ]);
  if (only.clickhouse && only.kafka) rmSync(STACK_ENV_FILE, { force: true });
  log(`stack down (ClickHouse ${stopped(ch)}, Kafka ${stopped(kafka)})`);
}

const pidNote = (check: PidCheck) =>
  check.state === 'stale' ? `; stale pid file removed: ${check.reason}` : '';

async function status() {
  const chPid = clickHousePidCheck(`${STACK.dir}/clickhouse`);
  const kPid = kafkaPidCheck(`${STACK.dir}/kafka`);
  const chUrl = `http://127.0.0.1:${STACK.clickhouseHttpPort}`;
  const chUp = chPid.state === 'running' && (await pingClickHouse(chUrl));
  console.log(
    `clickhouse: ${chPid.state === 'running' ? `${chUp ? 'up' : 'running, not answering'} (pid ${chPid.pid}, ${chUrl})` : 'down'}${pidNote(chPid)}`,
  );
  console.log(
    `kafka:      ${kPid.state === 'running' ? `up (pid ${kPid.pid}, 127.0.0.1:${STACK.kafkaPort})` : 'down'}${pidNote(kPid)}`,
  );
}

const USAGE = `usage: node tools/local-stack/stack.ts up|down|status   (npm run stack, npm run stack:down, npm run stack -- status)
  up      start ClickHouse and Kafka (or find them running), write .state/stack.env
  down    stop them
  status  tell what runs`;

if (import.meta.main) {
  const command = process.argv[2] ?? 'up';
  if (command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    process.exit(0);
  }
  const interrupt = new AbortController();
  const run = { up: () => stackUp(console.error, interrupt.signal), down: stackDown, status }[command];
  if (run === undefined) {
    console.error(`stack: unknown command ${JSON.stringify(command)}\n${USAGE}`);
    process.exit(2);
  }
  process.once('SIGINT', () => {
    console.error('stack: interrupted; stopping what this start started…');
    interrupt.abort();
  });
  run().then(
    () => process.exit(interrupt.signal.aborted ? 130 : 0),
    (err: Error) => {
      console.error(`stack ${command} failed: ${err.message}`);
      process.exit(interrupt.signal.aborted ? 130 : 1);
    },
  );
}
