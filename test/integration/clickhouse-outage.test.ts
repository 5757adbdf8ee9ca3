/**
 * ClickHouse stopped for 20 s mid-stream, then restarted: nothing lost, nothing doubled.
 * Kafka mode keeps accepting (the consumer pauses, offsets stay uncommitted, memory stays bounded);
 * single-process mode answers 503 with Retry-After once its buffer is full.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startClickHouse, stopClickHouse } from '../../tools/local-stack/clickhouse-server.ts';
import {
  clickhouse,
  kafkaClient,
  makeEvents,
  metric,
  postEvents,
  produce,
  type RunningService,
  scalar,
  serviceSetup,
  startService,
  waitUntil,
} from '../support/harness.ts';

const BUFFER = 8000;

describe('ClickHouse outage', () => {
  const ch = clickhouse();
  const services: RunningService[] = [];
  afterAll(async () => {
    for (const s of services) await s.stop();
    await ch.close();
  });

  it('loses and doubles nothing when ClickHouse is down for 20 s mid-stream', async () => {
    const tuning = {
      TOKENWATCH_BUFFER_MAX_ROWS: String(BUFFER),
      TOKENWATCH_BATCH_MAX_ROWS: '2000',
      TOKENWATCH_BATCH_MAX_WAIT_MS: '200',
      TOKENWATCH_INSERT_RETRY_MAX_BACKOFF_MS: '1000',
      TOKENWATCH_HTTP_ACK_TIMEOUT_MS: '1500',
    };
    const viaKafka = serviceSetup({ kafka: true, extra: tuning });
    const direct = serviceSetup({ kafka: false, extra: tuning });
    const kafkaService = await startService(viaKafka.env);
    const directService = await startService(direct.env);
    services.push(kafkaService, directService);
    const kafka = kafkaClient();

    const streamed = makeEvents(40_000, { prefix: 'k' });
    const posted = makeEvents(6000, { prefix: 'h' });
    const directEvents = makeEvents(10_000, { prefix: 'd' });

    // A steady stream into Kafka for the whole test: 40 chunks of 1000, every 750 ms.
    let produced = 0;
    const streaming = (async () => {
      for (let i = 0; i < streamed.length; i += 1000) {
        await produce(kafka, viaKafka.topic, streamed.slice(i, i + 1000));
        produced += 1000;
        await sleep(750);
      }
    })();

    await waitUntil(
      'some rows stored before the outage',
      async () => (await scalar(ch, `SELECT count() FROM ${viaKafka.database}.events`)) >= 3000,
    );
    await stopClickHouse(inject('clickhouseDir'));
    const outageStarted = Date.now();

    // During the outage: Kafka mode still takes HTTP events (they go to Kafka)…
    const duringOutage = await postEvents(kafkaService.url, posted.slice(0, 3000), { gzip: true });
    expect(duringOutage.status).toBe(200);
    expect(duringOutage.body.accepted).toBe(3000);
    // …single-process mode answers 503 with Retry-After, first on the ack timeout, then on a full buffer.
    const directAnswers: number[] = [];
    const directStatus = new Map<number, number>();
    for (let i = 0; i < directEvents.length; i += 1000) {
      const res = await postEvents(directService.url, directEvents.slice(i, i + 1000));
      directStatus.set(i, res.status);
      directAnswers.push(res.status);
      if (res.status === 503) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(directAnswers.every((s) => s === 503)).toBe(true);
    expect(await metric(directService.url, 'tokenwatch_http_busy_total')).toBeGreaterThan(0);

    // Not ready while ClickHouse is away; memory bounded by the buffer.
    expect((await fetch(`${kafkaService.url}/readyz`)).status).toBe(503);
    let maxBuffered = 0;
    while (Date.now() - outageStarted < 20_000) {
      maxBuffered = Math.max(maxBuffered, await metric(kafkaService.url, 'tokenwatch_buffer_rows'));
      await sleep(500);
    }
    expect(maxBuffered).toBeGreaterThan(0);
    expect(maxBuffered).toBeLessThanOrEqual(BUFFER);
    expect(await metric(kafkaService.url, 'tokenwatch_insert_failures_total')).toBeGreaterThan(0);

    await startClickHouse({
      dir: inject('clickhouseDir'),
      httpPort: inject('clickhouseHttpPort'),
      tcpPort: inject('clickhouseTcpPort'),
    });
    // The HTTP client of single-process mode sends its 503'd batches again, as Retry-After says.
    for (const [i] of directStatus) {
      await waitUntil(
        'single-process mode to accept again',
        async () =>
          (await postEvents(directService.url, directEvents.slice(i, i + 1000))).status === 200 || undefined,
        60_000,
        1000,
      );
    }
    expect((await postEvents(kafkaService.url, posted.slice(3000), { gzip: true })).status).toBe(200);
    await streaming;
    expect(produced).toBe(streamed.length);

    const expected = streamed.length + posted.length;
    await waitUntil(
      `all ${expected} Kafka-mode events stored`,
      async () =>
        (await scalar(ch, `SELECT uniqExact(event_id) FROM ${viaKafka.database}.events`)) === expected ||
        undefined,
      120_000,
    );
    await waitUntil(
      'Kafka-mode buffer drained',
      async () => (await metric(kafkaService.url, 'tokenwatch_buffer_rows')) === 0 || undefined,
    );
    expect(await scalar(ch, `SELECT count() FROM ${viaKafka.database}.events FINAL`)).toBe(expected);
    expect(await scalar(ch, `SELECT count() FROM ${direct.database}.events FINAL`)).toBe(directEvents.length);
    expect(await scalar(ch, `SELECT uniqExact(event_id) FROM ${direct.database}.events`)).toBe(
      directEvents.length,
    );
    await waitUntil('ready again', async () => (await fetch(`${kafkaService.url}/readyz`)).ok || undefined);
  });
});
