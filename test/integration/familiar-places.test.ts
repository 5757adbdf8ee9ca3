/**
 * Familiar places and networks, end to end on the real ClickHouse 18.16 (and the query on current
 * ClickHouse through chdb): two days of a user's history go in through the HTTP door (enriched by
 * geoip-lite, an ASN database and the operator's network list); a restarted service relearns them
 * from the database; today the user's laptop switches its VPN on — no finding — while a newcomer doing
 * the same gets an anonymizer-hop alert and a thief's far place (a place only ever reached by copied
 * tokens, whose stored findings asked for revocations) is still travel.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placeKey } from '../../detectors/familiar.ts';
import { familiarSql, readFamiliar } from '../../detectors/run/familiar-history.ts';
import { detectFeatures } from '../../platform/clickhouse/client.ts';
import { chdb, chdbFeatures, schemaStatements } from '../support/chdb.ts';
import {
  clickhouse,
  kafkaClient,
  postEvents,
  produce,
  queryRows,
  type RunningService,
  serviceSetup,
  startService,
  TENANT,
  unique,
  waitUntil,
} from '../support/harness.ts';
import { asnDb, asnRecord } from '../support/ip-fixtures.ts';

/** Where geoip-lite places them (tools/simulator/hard-places.ts scans the same way). */
const HOME = '81.2.69.142'; // Newmarket, GB — a home line (AS20712)
const VPN = '45.32.14.1'; // Heiwajima, JP — a Vultr exit (AS20473), listed as hosting
const THIEF = '177.71.128.1'; // São Paulo, BR
const DAY = 86_400_000;
const LAPTOP = { device_id: 'laptop-7', user_agent: 'Mozilla/5.0 (Macintosh) Firefox/128.0' };

describe.each([
  ['HTTP', false],
  ['Kafka (relearned on partition assignment)', true],
])('familiar places and networks, %s', (_door, kafkaMode) => {
  const dir = mkdtempSync(join(tmpdir(), 'tokenwatch-familiar-'));
  const asn = join(dir, 'GeoLite2-ASN.mmdb');
  const kinds = join(dir, 'network-kinds.txt');
  writeFileSync(
    asn,
    asnDb([
      { cidr: '81.2.69.0/24', record: asnRecord(20_712, 'Andrews & Arnold Ltd') },
      { cidr: '45.32.0.0/16', record: asnRecord(20_473, 'The Constant Company, LLC') },
      { cidr: '177.71.128.0/17', record: asnRecord(28_573, 'Claro NXT') },
    ]),
  );
  writeFileSync(kinds, '# a consumer VPN provider’s exits\n45.32.0.0/16 hosting\n');
  const setup = serviceSetup({
    kafka: kafkaMode,
    extra: {
      TOKENWATCH_BATCH_MAX_WAIT_MS: '100',
      TOKENWATCH_GEOIP_ASN_DB: asn,
      TOKENWATCH_NETWORK_KINDS_FILE: kinds,
    },
  });
  const ch = clickhouse();
  const kafka = kafkaClient();
  const settled = unique('settled');
  const newcomer = unique('newcomer');
  let service: RunningService | undefined;
  let seq = 0;
  const use = (subject: string, ip: string, timeMs: number, jti: string, extra: object = LAPTOP) => ({
    event_id: `${subject}-${++seq}`,
    type: 'verification',
    tenant: TENANT,
    time: timeMs,
    subject,
    ip,
    outcome: 'accepted',
    reason: 'ok',
    jti,
    ...extra,
  });

  beforeAll(async () => {
    // two days of history, stored through the HTTP door with detection off (as if an earlier
    // tokenwatch had seen them): in the database, not in the events topic
    const httpOnly = Object.fromEntries(
      Object.entries(setup.env).filter(
        ([k]) => !k.startsWith('TOKENWATCH_KAFKA_') && k !== 'TOKENWATCH_DETECT_GROUP_ID',
      ),
    );
    const history = await startService({ ...httpOnly, TOKENWATCH_DETECT: 'false' });
    const now = Date.now();
    const events = [2, 1].flatMap((d) => [
      use(settled, HOME, now - d * DAY, `h-${d}`),
      use(settled, VPN, now - d * DAY + 60_000, `v-${d}`),
      // a copied token used from São Paulo: the second end of a stored revoking finding
      use(settled, THIEF, now - d * DAY + 120_000, `t-${d}`, { device_id: 'thief' }),
    ]);
    expect((await postEvents(history.url, events)).status).toBe(200);
    await waitUntil(
      'the history stored',
      async () =>
        (await queryRows(ch, `SELECT event_id FROM ${setup.database}.events WHERE subject = '${settled}'`))
          .length === events.length,
      20_000,
    );
    await ch.insert({
      table: `${setup.database}.detections`,
      values: events
        .filter((e) => e.ip === THIEF)
        .map((e) => ({
          detection_id: `d-${e.event_id}`,
          detector: 'impossible_travel',
          kind: 'jti used from places too far apart',
          severity: 'high',
          action: 'revoke_jti',
          tenant: TENANT,
          subject: settled,
          trigger_event_id: e.event_id,
          event_ids: [e.event_id],
          detected_time: Math.floor(e.time / 1000),
          detected_ms: e.time,
        })),
      format: 'JSONEachRow',
    });
    expect(await history.stop()).toBe(0);
    service = await startService(setup.env);
  });
  afterAll(async () => {
    if (service !== undefined) expect(await service.stop()).toBe(0);
    await ch.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const findings = (subject: string) =>
    queryRows<{ kind: string; severity: string; action: string; jti: string }>(
      ch,
      `SELECT kind, severity, action, jti FROM ${setup.database}.detections WHERE subject = '${subject}' AND detector = 'impossible_travel' ORDER BY detected_ms`,
    );

  it('relearns the places and networks that worked, and not the copied token’s far place', async () => {
    const rows: { subject: string; place_key: number; asn: number }[] = [];
    await readFamiliar(ch, setup.database, { fromS: Date.now() / 1000 - 14 * 86_400 }, (r) => rows.push(r));
    const mine = rows.filter((r) => r.subject === settled);
    expect(mine).toHaveLength(4); // home and VPN on two days
    // the VPN's network (hosting) is learned; the home line's ASN is not (only its place)
    expect(new Set(mine.map((r) => r.asn))).toEqual(new Set([0, 20_473]));
    // the place keys are the detector's own (geoip-lite's coordinates for both addresses)
    expect(new Set(mine.map((r) => r.place_key))).toEqual(
      new Set([placeKey(52.2264, 0.4841), placeKey(35.5826, 139.7459)]),
    );
    expect(service!.output()).toMatch(/"familiarRows":[1-9]/);
  });

  it('today: the settled user’s VPN hop raises nothing, the newcomer’s is an alert, the thief is still travel', async () => {
    const now = Date.now();
    const live = [
      use(settled, HOME, now - 120_000, 'today-laptop'),
      use(settled, VPN, now - 60_000, 'today-laptop'),
      use(newcomer, HOME, now - 120_000, 'new-laptop'),
      use(newcomer, VPN, now - 60_000, 'new-laptop'),
      use(settled, HOME, now - 30_000, 'today-stolen'),
      use(settled, THIEF, now - 20_000, 'today-stolen', { device_id: 'thief' }),
    ];
    if (kafkaMode) await produce(kafka, setup.topic, live);
    else expect((await postEvents(service!.url, live)).status).toBe(200);
    const stolen = await waitUntil(
      'the thief’s travel finding',
      async () => {
        const f = (await findings(settled)).filter((x) => x.jti === 'today-stolen');
        return f.length > 0 && f;
      },
      20_000,
    );
    expect(stolen[0]).toMatchObject({ severity: 'high', action: 'revoke_jti' });
    const hop = await waitUntil(
      'the newcomer’s anonymizer hop',
      async () => {
        const f = await findings(newcomer);
        return f.length > 0 && f;
      },
      20_000,
    );
    expect(hop).toEqual([
      {
        kind: 'jti hopped onto an anonymizer network (same device and user agent)',
        severity: 'medium',
        action: 'alert_only',
        jti: 'new-laptop',
      },
    ]);
    // the same batch, judged before the thief's finding was stored: nothing for the settled laptop
    expect((await findings(settled)).filter((x) => x.jti === 'today-laptop')).toEqual([]);
  });
});

describe('the relearning query', () => {
  const ch = clickhouse();
  afterAll(() => ch.close());

  it('runs on current ClickHouse (chdb) and on 18.16 with the same answer', async () => {
    const features = await chdbFeatures();
    const o = { database: 'tw', cluster: '', retentionDays: 30 };
    const at = 1_795_368_720_000;
    const row = (id: string, type: string, outcome: string, lat: number, lon: number, kind = '') =>
      `('${id}', '${type}', ${at / 1000}, ${at}, 't', 's', '${outcome}', ${lat}, ${lon}, 100, 20473, '${kind}')`;
    const inserts = [
      row('a', 'verification', 'accepted', 52.2264, 0.4841),
      row('b', 'refresh', 'rotated', -23.5747, -46.6409),
      row('c', 'verification', 'rejected', 10, 10),
      row('d', 'verification', 'accepted', 35.5826, 139.7459, 'satellite'),
      row('e', 'verification', 'accepted', 40.5511, -74.4606),
    ];
    const statements = [
      `INSERT INTO tw.events (event_id, type, time, time_ms, tenant, subject, outcome, lat, lon, geo_radius_km, asn, network_kind) VALUES ${inserts.join(', ')}`,
      `INSERT INTO tw.detections (detection_id, detector, kind, severity, action, tenant, subject, event_ids, trigger_event_id, detected_time, detected_ms) VALUES ('d1', 'impossible_travel', 'x', 'high', 'revoke_jti', 't', 's', ['f', 'e'], 'e', ${at / 1000}, ${at})`,
    ];
    const sql = `${familiarSql('tw', { fromS: at / 1000 - 86_400 })} ORDER BY place_key`;
    const report = await chdb([...schemaStatements(o, features), ...statements], [sql]);
    const failed = report.results.filter((r) => !r.ok);
    expect(failed, JSON.stringify(failed, null, 2)).toEqual([]);
    const expected = [placeKey(52.2264, 0.4841), placeKey(-23.5747, -46.6409)].sort((a, b) => a - b);
    expect(report.results.at(-1)!.rows!.map((r) => Number(r['place_key']))).toEqual(expected);
    // and the same rows on 18.16
    const database = unique('fam');
    const local = await detectFeatures(ch);
    for (const s of schemaStatements({ ...o, database }, local)) await ch.command({ query: s });
    for (const s of statements) await ch.command({ query: s.replaceAll('tw.', `${database}.`) });
    const rows = await queryRows<{ place_key: string | number }>(
      ch,
      `${familiarSql(database, { fromS: at / 1000 - 86_400 })} ORDER BY place_key`,
    );
    expect(rows.map((r) => Number(r.place_key))).toEqual(expected);
  });
});
