/**
 * Kafka mode end to end, against a real Kafka and a real ClickHouse: events through the Kafka door
 * and through HTTP (which publishes to the topic) arrive exactly once, with geo.
 * Also run against Kafka 4.x (vitest project kafka4).
 */
import geoip from 'geoip-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clickhouse,
  kafkaClient,
  makeEvents,
  metric,
  postAll,
  produce,
  queryRows,
  type RunningService,
  scalar,
  serviceSetup,
  startService,
  waitUntil,
} from '../support/harness.ts';

describe('ingest through Kafka and HTTP into ClickHouse', () => {
  const setup = serviceSetup({ kafka: true });
  const ch = clickhouse();
  const kafka = kafkaClient();
  let service: RunningService;
  const viaKafka = makeEvents(50_000, { prefix: 'k' });
  const viaHttp = makeEvents(50_000, { prefix: 'h' });
  const table = `${setup.database}.events`;

  beforeAll(async () => {
    service = await startService(setup.env);
  });
  afterAll(async () => {
    const code = await service?.stop();
    expect(code, service?.output().slice(-3000)).toBe(0);
    await ch.close();
  });

  it('stores 50k Kafka + 50k HTTP events as exactly 100k rows', async () => {
    await Promise.all([produce(kafka, setup.topic, viaKafka), postAll(service.url, viaHttp)]);
    const stored = await waitUntil(
      '100k rows',
      async () => {
        const n = await scalar(ch, `SELECT count() FROM ${table}`);
        return n >= 100_000 ? n : undefined;
      },
      120_000,
    );
    expect(stored).toBe(100_000);
    expect(await scalar(ch, `SELECT uniqExact(event_id) FROM ${table}`)).toBe(100_000);
    expect(await scalar(ch, `SELECT count() FROM ${table} WHERE event_id LIKE 'k-%'`)).toBe(50_000);
    expect(await scalar(ch, `SELECT count() FROM ${setup.database}.dead_letters`)).toBe(0);
    expect(await metric(service.url, 'tokenwatch_events_total')).toBe(100_000);
  });

  it('stores every field and the right geo for each address', async () => {
    const rows = await queryRows<{
      ip: string;
      country: string;
      region: string;
      city: string;
      lat: number;
      lon: number;
      geo_radius_km: number;
      n: string;
    }>(
      ch,
      `SELECT ip, any(country) AS country, any(region) AS region, any(city) AS city, any(lat) AS lat, any(lon) AS lon, any(geo_radius_km) AS geo_radius_km, count() AS n
       FROM ${table} GROUP BY ip ORDER BY ip`,
    );
    const byIp = new Map(rows.map((r) => [r.ip, r]));
    // The IPv4-mapped IPv6 address was normalized to its IPv4 form.
    expect(byIp.has('::ffff:85.214.132.117')).toBe(false);
    expect(Number(byIp.get('85.214.132.117')?.n)).toBe(20_000);
    expect(byIp.get('85.214.132.117')).toMatchObject({ country: 'DE', city: 'Berlin' });
    expect(byIp.get('2a00:1450:4001:82b::200e')).toMatchObject({ country: 'DE' });
    expect(byIp.get('10.1.2.3')).toMatchObject({ country: '', city: '', lat: 0, lon: 0, geo_radius_km: 0 });
    for (const r of rows) {
      const g = geoip.lookup(r.ip);
      expect({ ip: r.ip, country: r.country, city: r.city, radius: r.geo_radius_km }).toEqual({
        ip: r.ip,
        country: g?.country ?? '',
        city: g?.city ?? '',
        radius: g?.area ?? 0,
      });
      if (g) expect([r.lat, r.lon]).toEqual([g.ll[0], g.ll[1]]);
    }
    const [refresh] = await queryRows<Record<string, unknown>>(
      ch,
      `SELECT * FROM ${table} WHERE event_id = 'h-3'`,
    );
    expect(refresh).toMatchObject({
      type: 'refresh',
      tenant: 'acme',
      subject: 'user-3',
      outcome: 'rotated',
      reason: 'ok',
      family_id: 'fam-3',
      token_id: 'rt-3',
      new_token_id: 'rt-3-n',
      access_jti: 'jti-h-3-n',
      source: 'gateway-0',
    });
    const [verification] = await queryRows<Record<string, unknown>>(
      ch,
      `SELECT * FROM ${table} WHERE event_id = 'k-1'`,
    );
    expect(verification).toMatchObject({
      type: 'verification',
      outcome: 'accepted',
      reason: 'ok',
      jti: 'jti-k-1',
      iss: 'https://auth.example',
      aud: ['api'],
      kid: 'k1',
      alg: 'EdDSA',
    });
    expect(Number(verification?.['time_ms'])).toBe(new Date(viaKafka[1]!['time'] as string).getTime());
  });

  it('stores re-sent events once (same event_id through either door)', async () => {
    const again = [...viaKafka.slice(0, 5000), ...viaHttp.slice(0, 5000)];
    await Promise.all([
      produce(kafka, setup.topic, again.slice(0, 5000)),
      postAll(service.url, again.slice(5000)),
    ]);
    await waitUntil(
      'the re-sent events to be consumed',
      async () =>
        (await metric(service.url, 'tokenwatch_events_received_total', { door: 'kafka' })) >= 110_000 ||
        undefined,
    );
    await waitUntil(
      'buffer drained',
      async () => (await metric(service.url, 'tokenwatch_buffer_rows')) === 0,
    );
    expect(await scalar(ch, `SELECT count() FROM ${table} FINAL`)).toBe(100_000);
    expect(await scalar(ch, `SELECT uniqExact(event_id) FROM ${table}`)).toBe(100_000);
    expect(
      await scalar(
        ch,
        `SELECT count() FROM ${setup.database}.events_by_token FINAL WHERE token_kind = 'jti' AND token = 'jti-k-1'`,
      ),
    ).toBe(1);
  });
});
