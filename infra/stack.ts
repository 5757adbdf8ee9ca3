/**
 * `npm run stack` / `npm run stack:down` / `npm run stack -- status`: the local infrastructure
 * (a real ClickHouse and a real single-node Kafka) on loopback, data under .state/stack.
 * Writes the addresses to .state/stack.env, which the service, the demo and the tests read.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { pingClickHouse, startClickHouse, stopClickHouse } from './clickhouse-server.ts';
import { DEFAULT_KAFKA_VERSION, startKafka, stopKafka } from './kafka-server.ts';
import { STACK_ENV_FILE, STATE_DIR } from './paths.ts';
import { isAlive, readPid } from './process.ts';

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

export async function stackUp(log: (msg: string) => void = console.error): Promise<Record<string, string>> {
  const started = Date.now();
  mkdirSync(STACK.dir, { recursive: true });
  const [ch, kafka] = await Promise.all([
    startClickHouse({
      dir: `${STACK.dir}/clickhouse`,
      httpPort: STACK.clickhouseHttpPort,
      tcpPort: STACK.clickhouseTcpPort,
    }),
    startKafka({
      dir: `${STACK.dir}/kafka`,
      port: STACK.kafkaPort,
      controllerPort: STACK.kafkaControllerPort,
      version: STACK.kafkaVersion,
    }),
  ]);
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
  return env;
}

export async function stackDown(log: (msg: string) => void = console.error) {
  const [ch, kafka] = await Promise.all([
    stopClickHouse(`${STACK.dir}/clickhouse`),
    stopKafka(`${STACK.dir}/kafka`),
  ]);
  rmSync(STACK_ENV_FILE, { force: true });
  log(
    `stack down (ClickHouse ${ch ? 'stopped' : 'was not running'}, Kafka ${kafka ? 'stopped' : 'was not running'})`,
  );
}

async function status() {
  const chPid = readPid(`${STACK.dir}/clickhouse/clickhouse.pid`);
  const kPid = readPid(`${STACK.dir}/kafka/kafka.pid`);
  const chUp =
    chPid !== undefined &&
    isAlive(chPid) &&
    (await pingClickHouse(`http://127.0.0.1:${STACK.clickhouseHttpPort}`).catch(() => false));
  console.log(
    `clickhouse: ${chUp ? `up (pid ${chPid}, http://127.0.0.1:${STACK.clickhouseHttpPort})` : 'down'}`,
  );
  console.log(
    `kafka:      ${kPid !== undefined && isAlive(kPid) ? `up (pid ${kPid}, 127.0.0.1:${STACK.kafkaPort})` : 'down'}`,
  );
}

if (import.meta.main) {
  const command = process.argv[2] ?? 'up';
  const run = { up: stackUp, down: stackDown, status }[command];
  if (run === undefined) {
    console.error(`usage: stack.ts up|down|status (got ${command})`);
    process.exit(2);
  }
  run().catch((err: Error) => {
    console.error(`stack ${command} failed: ${err.message}`);
    process.exit(1);
  });
}
