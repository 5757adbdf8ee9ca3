/**
 * The hard eval's learning history through the real storage (tools/eval/history-writer.ts): written
 * into a migrated database of the test ClickHouse in batches, every sighting becomes one stored
 * accepted verification carrying the AS and network kind of the eval's generated IP intelligence
 * (tools/eval/ip-intel.ts); written twice it is still stored once (event ids are stable); and
 * tokenwatch then starts on that database (schema current) with the history in place.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { openIpIntel } from '../../ingest/ipintel/provider.ts';
import { IP_INTEL_SETTINGS } from '../../ingest/ipintel/settings.ts';
import { detectFeatures } from '../../platform/clickhouse/client.ts';
import { migrate } from '../../platform/clickhouse/migrate.ts';
import { readTable } from '../../platform/settings.ts';
import { writeHistory } from '../../tools/eval/history-writer.ts';
import { writeEvalIpIntel } from '../../tools/eval/ip-intel.ts';
import { buildHistory } from '../../tools/simulator/history.ts';
import { buildSimulation } from '../../tools/simulator/simulation.ts';
import { clickhouse, queryRows, scalar, serviceSetup, startService, TENANT } from '../support/harness.ts';

const DAY = 86_400_000;
const log = pino({ level: 'silent' });
const ch = clickhouse();
const dir = mkdtempSync(join(tmpdir(), 'tokenwatch-eval-history-'));
const ipIntel = writeEvalIpIntel(dir);
const intel = openIpIntel(readTable(IP_INTEL_SETTINGS, ipIntel.env, []), log);
afterAll(async () => {
  intel.close();
  await ch.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the eval’s learning history in ClickHouse', () => {
  const setup = serviceSetup({ kafka: false, extra: { ...ipIntel.env, TOKENWATCH_DETECT: 'false' } });
  const sim = buildSimulation({
    seed: 'history-it',
    users: 6,
    durationMs: DAY,
    startUtcMs: Math.floor(Date.now() / DAY) * DAY - DAY,
    attacksPerKind: 0,
    tenant: TENANT,
    hardPerKind: 1,
  });
  const sightings = buildHistory(sim, 3);

  it('stores every sighting once, with the AS and network kind of its address', async () => {
    await migrate(
      ch,
      { database: setup.database, cluster: '', retentionDays: 90 },
      await detectFeatures(ch),
      log,
    );
    const progress: string[] = [];
    const write = () =>
      writeHistory({
        client: ch,
        database: setup.database,
        sightings,
        intel,
        log,
        say: (m) => progress.push(m),
        batchRows: 1000,
      });
    const written = await write();
    expect(written.rows).toBe(sightings.length);
    expect(progress.length).toBe(Math.ceil(sightings.length / 1000));
    await write(); // a rerun stores nothing twice
    const table = `${setup.database}.events FINAL`;
    expect(await scalar(ch, `SELECT count() FROM ${table}`)).toBe(sightings.length);
    expect(
      await scalar(
        ch,
        `SELECT count() FROM ${table} WHERE type = 'verification' AND outcome = 'accepted' AND asn > 0 AND as_org != ''`,
      ),
    ).toBe(sightings.length);
    const vpn = await queryRows<{ asn: number; network_kind: string; days: string }>(
      ch,
      `SELECT asn, network_kind, uniqExact(toDate(time)) AS days FROM ${table}
       WHERE subject = 'hard-consumer-vpn-00000' AND network_kind != '' GROUP BY asn, network_kind`,
    );
    expect(vpn.map((r) => [Number(r.asn), r.network_kind])).toStrictEqual([[20473, 'hosting']]);
    expect(Number(vpn[0]!.days)).toBeGreaterThanOrEqual(2);
    const range = await queryRows<{ from: string; to: string }>(
      ch,
      `SELECT min(time_ms) AS from, max(time_ms) AS to FROM ${table}`,
    );
    expect(Number(range[0]!.from)).toBeGreaterThanOrEqual(sim.options.startUtcMs - 3 * DAY);
    expect(Number(range[0]!.to)).toBeLessThan(sim.options.startUtcMs);
  });

  it('tokenwatch starts on the database the history was written into', async () => {
    const service = await startService(setup.env);
    try {
      const ready = await fetch(`${service.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await scalar(ch, `SELECT count() FROM ${setup.database}.events FINAL`)).toBe(sightings.length);
    } finally {
      expect(await service.stop()).toBe(0);
    }
  });
});
