/**
 * A real ClickHouse cluster on loopback for tests: servers of Debian's ClickHouse
 * (tools/local-stack/clickhouse-server.ts), each with its own folder and ports, as the replicas of
 * one shard (or several shards) of a cluster named in every server's <remote_servers>, with
 * <macros> (`shard`, `replica`) for the Replicated* tables' ZooKeeper paths, a <distributed_ddl>
 * queue for ON CLUSTER statements and interserver HTTP ports for the replicas' part fetches. The
 * cluster's part of the config is a file in each server's config.d/, which the server merges into
 * its config. A replica is started and stopped (or killed) on its own.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  clickHousePidCheck,
  type RunningClickHouse,
  startClickHouse,
  stopClickHouse,
} from './clickhouse-server.ts';
import { freePort, requirePortsFree, type StopResult } from './process.ts';

export interface ClusterReplica {
  /** "1a": shard number and replica letter, for messages and its folder */
  id: string;
  /** the `shard` macro: "01" */
  shard: string;
  /** the `replica` macro: "a" */
  replica: string;
  dir: string;
  httpPort: number;
  tcpPort: number;
  interserverPort: number;
  /** http://127.0.0.1:<httpPort> */
  url: string;
}

export interface ClickHouseCluster {
  /** the cluster's name in <remote_servers>: what TOKENWATCH_CLICKHOUSE_CLUSTER names */
  name: string;
  dir: string;
  /** host:port of the ZooKeeper the replicas use */
  zookeeper: string;
  /**
   * the ZooKeeper path of its ON CLUSTER queue: one per cluster folder, so that clusters that share a
   * ZooKeeper (and may reuse each other's ports) never run each other's statements
   */
  ddlQueue: string;
  /** shards[i] holds the replicas of shard i + 1 */
  shards: ClusterReplica[][];
  /** every replica, shard by shard */
  replicas: ClusterReplica[];
}

export interface ClusterPlanOptions {
  /** a folder for the cluster: every replica gets a folder in it */
  dir: string;
  /** default "tokenwatch" */
  name?: string;
  /** host:port of a running ZooKeeper (tools/local-stack/zookeeper.ts) */
  zookeeper: string;
  /** default 1 */
  shards?: number;
  /** replicas per shard, default 2 */
  replicas?: number;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** The cluster's servers, each on three free loopback ports (nothing is started yet). */
export async function planClickHouseCluster(o: ClusterPlanOptions): Promise<ClickHouseCluster> {
  const name = o.name ?? 'tokenwatch';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new Error(`cluster name ${JSON.stringify(name)} must be a plain identifier (letters, digits, _)`);
  const shardCount = o.shards ?? 1;
  const replicaCount = o.replicas ?? 2;
  if (!Number.isInteger(shardCount) || shardCount < 1 || !Number.isInteger(replicaCount) || replicaCount < 1)
    throw new Error(
      `a cluster needs a whole number of shards and replicas, at least 1 each (got shards=${o.shards}, replicas=${o.replicas})`,
    );
  if (replicaCount > LETTERS.length) throw new Error(`at most ${LETTERS.length} replicas per shard`);
  const dir = resolve(o.dir);
  const shards: ClusterReplica[][] = [];
  for (let s = 1; s <= shardCount; s++) {
    const replicas: ClusterReplica[] = [];
    for (const letter of LETTERS.slice(0, replicaCount)) {
      const [httpPort, tcpPort, interserverPort] = [await freePort(), await freePort(), await freePort()];
      const id = `${s}${letter}`;
      replicas.push({
        id,
        shard: String(s).padStart(2, '0'),
        replica: letter,
        dir: `${dir}/replica-${id}`,
        httpPort,
        tcpPort,
        interserverPort,
        url: `http://127.0.0.1:${httpPort}`,
      });
    }
    shards.push(replicas);
  }
  const ddlQueue = `/clickhouse/task_queue/${name}-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`;
  return { name, dir, zookeeper: o.zookeeper, ddlQueue, shards, replicas: shards.flat() };
}

/** The cluster's part of a replica's config (config.d/cluster.xml). */
export function clusterConfigXml(c: ClickHouseCluster, r: ClusterReplica): string {
  const [zkHost, zkPort] = c.zookeeper.split(':');
  const shards = c.shards
    .map(
      (replicas) =>
        `      <shard>\n        <internal_replication>true</internal_replication>\n${replicas
          .map((x) => `        <replica><host>127.0.0.1</host><port>${x.tcpPort}</port></replica>`)
          .join('\n')}\n      </shard>`,
    )
    .join('\n');
  return `<?xml version="1.0"?>
<!-- Replica ${r.id} of the ClickHouse cluster ${c.name} (tools/local-stack/clickhouse-cluster.ts). -->
<yandex>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <interserver_http_port>${r.interserverPort}</interserver_http_port>
  <zookeeper>
    <node><host>${zkHost}</host><port>${zkPort}</port></node>
    <session_timeout_ms>5000</session_timeout_ms>
  </zookeeper>
  <remote_servers>
    <${c.name}>
${shards}
    </${c.name}>
  </remote_servers>
  <macros><shard>${r.shard}</shard><replica>${r.replica}</replica></macros>
  <distributed_ddl><path>${c.ddlQueue}</path></distributed_ddl>
</yandex>
`;
}

export interface ReplicaStartOptions {
  /** where progress lines go (default stderr) */
  log?: (msg: string) => void;
  signal?: AbortSignal | undefined;
}

/** How long a started replica gets to reach ZooKeeper. */
const ZOOKEEPER_WAIT_MS = 30_000;

/** Whether the replica reaches ZooKeeper (it answers a query on system.zookeeper); otherwise why not. */
async function reachesZooKeeper(r: ClusterReplica): Promise<true | string> {
  try {
    const res = await fetch(r.url, {
      method: 'POST',
      body: "SELECT count() FROM system.zookeeper WHERE path = '/'",
      signal: AbortSignal.timeout(5000),
    });
    return res.ok || (await res.text()).trim().split('\n')[0]!;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Starts one replica (or finds it running) and waits until it reaches ZooKeeper. */
export async function startClusterReplica(
  c: ClickHouseCluster,
  r: ClusterReplica,
  o: ReplicaStartOptions = {},
): Promise<RunningClickHouse> {
  mkdirSync(`${r.dir}/config.d`, { recursive: true });
  writeFileSync(`${r.dir}/config.d/cluster.xml`, clusterConfigXml(c, r));
  // (its HTTP and TCP ports are checked by startClickHouse; a replica that runs holds its own)
  if (clickHousePidCheck(r.dir).state !== 'running')
    await requirePortsFree([[`ClickHouse ${r.id} interserver HTTP`, r.interserverPort]]);
  const running = await startClickHouse({
    dir: r.dir,
    httpPort: r.httpPort,
    tcpPort: r.tcpPort,
    ...(o.log ? { log: o.log } : {}),
    signal: o.signal,
  });
  const deadline = Date.now() + ZOOKEEPER_WAIT_MS;
  for (;;) {
    const answer = await reachesZooKeeper(r);
    if (answer === true) return running;
    if (Date.now() > deadline) {
      if (running.startedNow) await stopClickHouse(r.dir);
      throw new Error(
        `ClickHouse replica ${r.id} (${r.url}) of cluster ${c.name} does not reach ZooKeeper at ${c.zookeeper} ` +
          `after ${ZOOKEEPER_WAIT_MS / 1000} s: ${answer}\nWhat to do: check that ZooKeeper runs there ` +
          `(its log, and 'srvr' on its port answers), and see ${r.dir}/log/error.log`,
      );
    }
    await sleep(250);
  }
}

/** Stops one replica: SIGTERM, then SIGKILL after `graceMs` (0: killed at once, as a crash). */
export function stopClusterReplica(r: ClusterReplica, graceMs?: number): Promise<StopResult> {
  return stopClickHouse(r.dir, graceMs);
}

/**
 * Starts every replica at once (or finds them running). When one fails, the replicas this call
 * started are stopped again.
 */
export async function startClickHouseCluster(
  c: ClickHouseCluster,
  o: ReplicaStartOptions = {},
): Promise<RunningClickHouse[]> {
  const results = await Promise.allSettled(c.replicas.map((r) => startClusterReplica(c, r, o)));
  const failed = results.find((x) => x.status === 'rejected');
  if (failed === undefined) return results.map((x) => (x as PromiseFulfilledResult<RunningClickHouse>).value);
  await Promise.all(
    results.map((x, i) =>
      x.status === 'fulfilled' && x.value.startedNow ? stopClusterReplica(c.replicas[i]!) : undefined,
    ),
  );
  throw failed.reason;
}

/** Stops every replica. */
export async function stopClickHouseCluster(c: ClickHouseCluster): Promise<StopResult[]> {
  return Promise.all(c.replicas.map((r) => stopClusterReplica(r)));
}
