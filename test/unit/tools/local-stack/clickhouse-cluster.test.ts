/**
 * The local stack's ClickHouse cluster plan: every server on its own ports and folder, and the
 * config each one merges (its macros, the whole cluster in <remote_servers>, ZooKeeper, a DDL queue
 * per cluster folder, the interserver port).
 */
import { describe, expect, it } from 'vitest';
import { clusterConfigXml, planClickHouseCluster } from '../../../../tools/local-stack/clickhouse-cluster.ts';

describe('a ClickHouse cluster plan', () => {
  it('one shard of two replicas by default, each with its ports, folder and macros', async () => {
    const c = await planClickHouseCluster({ dir: '/tmp/tw-cluster-plan', zookeeper: '127.0.0.1:2181' });
    expect(c.name).toBe('tokenwatch');
    expect(c.replicas.map((r) => [r.id, r.shard, r.replica, r.dir])).toEqual([
      ['1a', '01', 'a', '/tmp/tw-cluster-plan/replica-1a'],
      ['1b', '01', 'b', '/tmp/tw-cluster-plan/replica-1b'],
    ]);
    const ports = c.replicas.flatMap((r) => [r.httpPort, r.tcpPort, r.interserverPort]);
    expect(new Set(ports).size).toBe(6);
    const [a, b] = c.replicas;
    const xml = clusterConfigXml(c, b!);
    expect(xml).toContain('<macros><shard>01</shard><replica>b</replica></macros>');
    expect(xml).toContain(`<interserver_http_port>${b!.interserverPort}</interserver_http_port>`);
    expect(xml).toContain('<node><host>127.0.0.1</host><port>2181</port></node>');
    expect(xml).toContain(`<replica><host>127.0.0.1</host><port>${a!.tcpPort}</port></replica>`);
    expect(xml).toContain(`<replica><host>127.0.0.1</host><port>${b!.tcpPort}</port></replica>`);
    expect(xml.match(/<shard>\s*<internal_replication>true/g)).toHaveLength(1);
    expect(xml).toContain(`<distributed_ddl><path>${c.ddlQueue}</path></distributed_ddl>`);
  });

  it('several shards; the DDL queue is the same for a folder and differs between folders', async () => {
    const c = await planClickHouseCluster({
      dir: '/tmp/tw-cluster-plan',
      name: 'two',
      zookeeper: '127.0.0.1:2181',
      shards: 2,
      replicas: 1,
    });
    expect(c.shards.map((s) => s.map((r) => `${r.shard}/${r.replica}`))).toEqual([['01/a'], ['02/a']]);
    expect(clusterConfigXml(c, c.replicas[1]!).match(/<shard>\s*<internal_replication>/g)).toHaveLength(2);
    const again = await planClickHouseCluster({ dir: '/tmp/tw-cluster-plan', name: 'two', zookeeper: 'x:1' });
    const elsewhere = await planClickHouseCluster({ dir: '/tmp/tw-other', name: 'two', zookeeper: 'x:1' });
    expect(again.ddlQueue).toBe(c.ddlQueue);
    expect(elsewhere.ddlQueue).not.toBe(c.ddlQueue);
  });

  it('refuses a name that is not an identifier, and shards or replicas that are not whole numbers ≥ 1', async () => {
    await expect(planClickHouseCluster({ dir: '/tmp/x', name: 'a b', zookeeper: 'x:1' })).rejects.toThrow(
      'cluster name "a b" must be a plain identifier (letters, digits, _)',
    );
    await expect(planClickHouseCluster({ dir: '/tmp/x', zookeeper: 'x:1', shards: 0 })).rejects.toThrow(
      'a cluster needs a whole number of shards and replicas, at least 1 each (got shards=0, replicas=undefined)',
    );
  });
});
