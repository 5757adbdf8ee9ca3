/**
 * The HTTP door in Kafka mode with gzip-compressed record batches, every part real (Kafka,
 * ClickHouse, the service): what it publishes is an event's own text where that validates to the
 * same event, the contract form otherwise, signed either way; the ingest consumer reads the
 * compressed batches and stores every event as accepted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reporterFromHeaders } from '../../ingest/pipeline/reporter-headers.ts';
import {
  API_KEY,
  clickhouse,
  kafkaClient,
  makeEvents,
  postRaw,
  queryRows,
  type RunningService,
  serviceSetup,
  startService,
  TENANT,
  waitUntil,
} from '../support/harness.ts';

const RELAY_SECRET = 'relay-secret-0123456789abcdef-0123456789';

describe('HTTP → Kafka with TOKENWATCH_KAFKA_COMPRESSION=gzip', () => {
  const setup = serviceSetup({
    kafka: true,
    extra: {
      TOKENWATCH_KAFKA_COMPRESSION: 'gzip',
      TOKENWATCH_RELAY_SECRET: RELAY_SECRET,
      TOKENWATCH_DETECT: 'false',
      TOKENWATCH_BATCH_MAX_WAIT_MS: '100',
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
  });

  it('publishes own texts where they validate alike, contract forms otherwise, and stores all of them', async () => {
    const events = makeEvents(300, { prefix: 'gz' });
    // no tenant (the key's is filled in), a \u escape, a byte-order mark: the contract form is written
    const { tenant: _, ...untenanted } = events[0]!;
    const lines = [
      JSON.stringify(untenanted),
      JSON.stringify(events[1]).replace(/"source":"[^"]*"/, '"source":"gate\\u0077ay"'),
      `\uFEFF${JSON.stringify(events[2])}`,
      ...events.slice(3).map((e) => JSON.stringify(e)),
    ];
    // a 503 (a loaded machine: under pressure) takes nothing: sent again until it is answered
    const res = await waitUntil('a 200', async () => {
      const r = await postRaw(service.url, lines.join('\n'), {
        'content-type': 'application/x-ndjson',
        authorization: `Bearer ${API_KEY}`,
      });
      return r.status === 503 ? undefined : r;
    });
    expect(res.body).toEqual({ accepted: 300, rejected: 0, errors: [] });

    const values = new Map<string, string>();
    const unsigned: string[] = [];
    const kafka = kafkaClient();
    const consumer = kafka.consumer({ groupId: `${setup.topic}-reader` });
    await consumer.connect();
    await consumer.subscribe({ topic: setup.topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const value = message.value!.toString('utf8');
        // every message's reporter is signed over the value as sent
        if (!reporterFromHeaders(message.headers, value, RELAY_SECRET).ok) unsigned.push(value);
        values.set((JSON.parse(value) as { event_id: string }).event_id, value);
      },
    });
    try {
      await waitUntil('the 300 relayed messages', async () => values.size >= 300, 60_000);
    } finally {
      await consumer.disconnect();
    }
    expect(unsigned).toEqual([]);
    for (let i = 3; i < 300; i++) expect(values.get(`gz-${i}`)).toBe(lines[i]);
    for (const i of [0, 1, 2]) {
      const relayed = JSON.parse(values.get(`gz-${i}`)!) as Record<string, unknown>;
      expect(values.get(`gz-${i}`)).not.toBe(lines[i]);
      expect(relayed['tenant']).toBe(TENANT);
      expect(typeof relayed['time']).toBe('number');
    }
    expect(JSON.parse(values.get('gz-1')!).source).toBe('gateway');

    const rows = await waitUntil(
      'the 300 events stored',
      async () => {
        const r = await queryRows<{ n: string; tenants: string; first: string }>(
          ch,
          `SELECT count() AS n, uniqExact(tenant) AS tenants, toString(min(time)) AS first FROM ${setup.database}.events WHERE event_id LIKE 'gz-%'`,
        );
        return Number(r[0]?.n) >= 300 ? r[0] : undefined;
      },
      60_000,
    );
    expect(Number(rows.n)).toBe(300);
    expect(Number(rows.tenants)).toBe(1);
    const [source] = await queryRows<{ source: string }>(
      ch,
      `SELECT source FROM ${setup.database}.events WHERE event_id = 'gz-1'`,
    );
    expect(source?.source).toBe('gateway');
  });
});
