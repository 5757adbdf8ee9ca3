/**
 * What tokenwatch does differently on a ClickHouse cluster, in its pure parts: the DDL wait, which
 * failures are a host that did not finish, the advice on failures, and the local table a Distributed
 * engine names. (The connection's settings are shown at work in
 * test/integration/replicated-clickhouse.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import {
  clusterAdvice,
  ddlSettings,
  distributedTarget,
  isDdlUnfinished,
} from '../../../../platform/clickhouse/cluster.ts';

const UNFINISHED =
  'Code: 159, e.displayText() = DB::Exception: Watching task /clickhouse/task_queue/tokenwatch/query-0000000027 ' +
  'is executing longer than distributed_ddl_task_timeout (=20) seconds. There are 1 unfinished hosts ' +
  '(0 of them are currently active), they are going to execute the query in background';

describe('cluster mode', () => {
  it('DDL waits a bounded time for every host on a cluster, and as before on one server', () => {
    expect(ddlSettings('')).toEqual({});
    expect(ddlSettings('tokenwatch')).toEqual({ distributed_ddl_task_timeout: '20' });
  });

  it('a statement a host did not finish is told apart from other failures', () => {
    expect(isDdlUnfinished(new Error(UNFINISHED))).toBe(true);
    expect(isDdlUnfinished(new Error('Code: 57, Table tw.events already exists.'))).toBe(false);
  });

  it('failures on a cluster come with what to do; on one server with nothing added', () => {
    expect(clusterAdvice('tokenwatch', new Error(UNFINISHED))).toContain(
      "Start every host (SELECT host_name, port FROM system.clusters WHERE cluster = 'tokenwatch' lists them), then run tokenwatch migrate again",
    );
    expect(clusterAdvice('prod', new Error("Code: 170, Requested cluster 'prod' not found"))).toContain(
      "TOKENWATCH_CLICKHOUSE_CLUSTER=prod must name a cluster of the server's <remote_servers>",
    );
    expect(clusterAdvice('prod', new Error('Code: 62, No macro shard in config'))).toContain(
      '<macros> with its `shard` and `replica`',
    );
    expect(clusterAdvice('', new Error(UNFINISHED))).toBe('');
    expect(clusterAdvice('prod', new Error('Code: 60, Table tw.x does not exist'))).toBe('');
  });

  it('reads the cluster, database and table a Distributed engine names, as 18.16 and current servers write it', () => {
    const target = { cluster: 'tokenwatch', database: 'tokenwatch_local', table: 'events' };
    expect(
      distributedTarget('Distributed(tokenwatch, tokenwatch_local, events, cityHash64(tenant, subject))'),
    ).toEqual(target);
    expect(distributedTarget("Distributed('tokenwatch', 'tokenwatch_local', 'events')")).toEqual(target);
    expect(
      distributedTarget("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tw/events', '{replica}')"),
    ).toBe(undefined);
    expect(() => distributedTarget('Distributed(tokenwatch, currentDatabase(), events)')).toThrow(
      /cannot tell the local table of a Distributed table from its engine .* name the cluster, database and table plainly/,
    );
  });
});
