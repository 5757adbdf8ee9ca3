/**
 * A ClickHouse and a Kafka started together, as the stack, the tests and the benchmarks want them:
 * their tools first (clickhouse-server installed, Kafka's jars resolved), so that no server starts
 * while apt-get or Maven take the CPU; then both servers at once. When either fails, the other's
 * start is interrupted and whatever this call started is stopped again — and only that: a server
 * that was running before is left running.
 */
import {
  type ClickHouseServerOptions,
  ensureClickHouseInstalled,
  type RunningClickHouse,
  startClickHouse,
  stopClickHouse,
} from './clickhouse-server.ts';
import { DEFAULT_KAFKA_VERSION, ensureKafkaJars } from './kafka-jars.ts';
import { type KafkaServerOptions, type RunningKafka, startKafka, stopKafka } from './kafka-server.ts';

export interface LocalServersOptions {
  clickhouse: Omit<ClickHouseServerOptions, 'log' | 'signal'>;
  kafka: Omit<KafkaServerOptions, 'log' | 'signal'>;
  log?: (msg: string) => void;
  /** aborts the start (Ctrl-C): what this call started is stopped again */
  signal?: AbortSignal | undefined;
}

export interface LocalServers {
  clickhouse: RunningClickHouse;
  kafka: RunningKafka;
}

export async function startLocalServers(o: LocalServersOptions): Promise<LocalServers> {
  const log = o.log ?? console.error;
  ensureClickHouseInstalled(log);
  await ensureKafkaJars(o.kafka.version ?? DEFAULT_KAFKA_VERSION, log, o.signal);
  const failed = new AbortController();
  const signal = o.signal === undefined ? failed.signal : AbortSignal.any([o.signal, failed.signal]);
  let firstError: unknown;
  const onFailure = (err: unknown) => {
    firstError ??= err;
    failed.abort();
    throw err;
  };
  const [clickhouse, kafka] = await Promise.allSettled([
    startClickHouse({ ...o.clickhouse, log, signal }).catch(onFailure),
    startKafka({ ...o.kafka, log, signal }).catch(onFailure),
  ]);
  if (clickhouse.status === 'fulfilled' && kafka.status === 'fulfilled')
    return { clickhouse: clickhouse.value, kafka: kafka.value };
  // The failed one stopped its own process; the other is stopped here if this call started it.
  if (clickhouse.status === 'fulfilled' && clickhouse.value.startedNow) {
    await stopClickHouse(o.clickhouse.dir);
    log('stopped ClickHouse again (this start had started it)');
  }
  if (kafka.status === 'fulfilled' && kafka.value.startedNow) {
    await stopKafka(o.kafka.dir);
    log('stopped Kafka again (this start had started it)');
  }
  throw firstError;
}
