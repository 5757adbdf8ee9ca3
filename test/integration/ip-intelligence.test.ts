/**
 * IP intelligence through the real ingest: `tokenwatch serve` (single process, HTTP door) with
 * MaxMind-format databases generated for the test, real ClickHouse. A stored event has the place,
 * `asn`, `as_org` and `network_kind` the databases give its address (IPv4 and IPv6), and a database
 * replaced under the running service answers for the events after it.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clickhouse,
  postEvents,
  queryRows,
  type RunningService,
  serviceSetup,
  startService,
  waitUntil,
} from '../support/harness.ts';
import { asnDb, asnRecord, FIXTURE, writeFixtureDbs } from '../support/ip-fixtures.ts';

const dbs = writeFixtureDbs();

interface Stored {
  event_id: string;
  ip: string;
  country: string;
  city: string;
  geo_radius_km: number;
  asn: number;
  as_org: string;
  network_kind: string;
}

describe('IP intelligence in ingest', () => {
  const setup = serviceSetup({
    kafka: false,
    extra: {
      TOKENWATCH_BATCH_MAX_WAIT_MS: '100',
      TOKENWATCH_DETECT: 'false',
      TOKENWATCH_GEOIP_CITY_DB: dbs.city,
      TOKENWATCH_GEOIP_ASN_DB: dbs.asn,
      TOKENWATCH_GEOIP_ANONYMOUS_DB: dbs.anonymous,
      TOKENWATCH_GEOIP_CONNECTION_TYPE_DB: dbs.connectionType,
    },
  });
  const ch = clickhouse();
  let service: RunningService;
  beforeAll(async () => {
    service = await startService(setup.env);
  });
  afterAll(async () => {
    expect(await service?.stop()).toBe(0);
    await ch.close();
    rmSync(dbs.dir, { recursive: true, force: true });
  });

  const event = (id: string, ip: string) => ({
    event_id: id,
    type: 'verification',
    time: Date.now(),
    subject: 'alice',
    ip,
    outcome: 'accepted',
    reason: 'ok',
    jti: `jti-${id}`,
  });
  const stored = async (ids: string[]) => {
    const rows = await queryRows<Stored>(
      ch,
      `SELECT event_id, ip, country, city, geo_radius_km, asn, as_org, network_kind FROM ${setup.database}.events
       WHERE event_id IN (${ids.map((i) => `'${i}'`).join(', ')}) ORDER BY event_id`,
    );
    return new Map(rows.map((r) => [r.event_id, r]));
  };

  it('stores asn, as_org and the network kind the databases give, IPv4 and IPv6', async () => {
    const events = [
      event('ip-1-london-v6', FIXTURE.london.ipv6),
      event('ip-2-carrier', FIXTURE.carrier.ip),
      event('ip-3-vpn-v6', FIXTURE.vpn.ipv6),
      event('ip-4-hosting', FIXTURE.hosting.ip),
      event('ip-5-unknown', '85.214.132.117'),
    ];
    const res = await postEvents(service.url, events);
    expect(res.body).toEqual({ accepted: 5, rejected: 0, errors: [] });
    const rows = await stored(events.map((e) => e.event_id));
    expect(rows.get('ip-1-london-v6')).toMatchObject({
      ip: FIXTURE.london.ipv6,
      country: 'GB',
      city: 'London',
      geo_radius_km: 10,
      asn: 20_712,
      as_org: 'Andrews & Arnold Ltd',
      network_kind: '',
    });
    expect(rows.get('ip-2-carrier')).toMatchObject({ country: 'AU', asn: 1221, network_kind: 'mobile' });
    expect(rows.get('ip-3-vpn-v6')).toMatchObject({ asn: 60_068, network_kind: 'anonymizer' });
    expect(rows.get('ip-4-hosting')).toMatchObject({
      asn: 4_200_000_001,
      as_org: 'Big Cloud',
      network_kind: 'hosting',
    });
    // the City database replaces geoip-lite: an address it does not hold has no place
    expect(rows.get('ip-5-unknown')).toMatchObject({
      country: '',
      city: '',
      asn: 0,
      as_org: '',
      network_kind: '',
    });
  });

  it('answers from a database replaced under the running service', async () => {
    writeFileSync(
      `${dbs.asn}.new`,
      asnDb([{ cidr: '81.2.69.0/24', record: asnRecord(65_010, 'Swapped Ltd') }]),
    );
    renameSync(`${dbs.asn}.new`, dbs.asn);
    await waitUntil(
      'the service to reload the ASN database',
      async () => service.output().includes('TOKENWATCH_GEOIP_ASN_DB reloaded'),
      20_000,
    );
    const res = await postEvents(service.url, [event('ip-6-after-swap', FIXTURE.london.ip)]);
    expect(res.body).toMatchObject({ accepted: 1 });
    expect((await stored(['ip-6-after-swap'])).get('ip-6-after-swap')).toMatchObject({
      city: 'London',
      asn: 65_010,
      as_org: 'Swapped Ltd',
    });
  });
});
