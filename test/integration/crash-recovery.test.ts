/**
 * The service killed mid-batch (SIGKILL) and restarted: a crash loses nothing that Kafka holds, and
 * re-read events collapse by event_id. A graceful shutdown (SIGTERM) stores what it took first.
 */
import { afterAll, describe, expect, it } from 'vitest';
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

describe('crash and shutdown', () => {
  const ch = clickhouse();
  const running: RunningService[] = [];
  afterAll(async () => {
    for (const s of running) if (s.child.exitCode === null) await s.stop();
    await ch.close();
  });

  it('loses nothing when killed mid-batch and restarted', async () => {
    const setup = serviceSetup({
      kafka: true,
      extra: { TOKENWATCH_BATCH_MAX_ROWS: '5000', TOKENWATCH_BATCH_MAX_WAIT_MS: '300' },
    });
    const events = makeEvents(100_000, { prefix: 'c' });
    // The topic exists once the service has started; produce while it consumes.
    const first = await startService(setup.env);
    running.push(first);
    const producing = produce(kafkaClient(), setup.topic, events, 5000);
    await waitUntil(
      'a first part stored',
      async () => (await scalar(ch, `SELECT count() FROM ${setup.database}.events`)) >= 15_000 || undefined,
      60_000,
      50,
    );
    await first.kill();
    const atKill = await scalar(ch, `SELECT count() FROM ${setup.database}.events`);
    expect(atKill).toBeLessThan(events.length);
    await producing;

    const second = await startService(setup.env);
    running.push(second);
    await waitUntil(
      'every event stored',
      async () =>
        (await scalar(ch, `SELECT uniqExact(event_id) FROM ${setup.database}.events`)) === events.length ||
        undefined,
      120_000,
    );
    expect(await scalar(ch, `SELECT count() FROM ${setup.database}.events FINAL`)).toBe(events.length);
    await second.stop();
  });

  it('stores what it took before exiting on SIGTERM (single-process HTTP)', async () => {
    const setup = serviceSetup({ kafka: false, extra: { TOKENWATCH_BATCH_MAX_WAIT_MS: '5000' } });
    const service = await startService(setup.env);
    running.push(service);
    const events = makeEvents(3000, { prefix: 's' });
    // The flush timer is 5 s: the request is still waiting for its rows to be stored when SIGTERM comes.
    const pending = postEvents(service.url, events);
    await waitUntil(
      'rows buffered',
      async () => (await metric(service.url, 'tokenwatch_buffer_rows')) === 3000 || undefined,
      10_000,
      20,
    );
    const exit = service.stop();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(3000);
    expect(await exit).toBe(0);
    expect(await scalar(ch, `SELECT count() FROM ${setup.database}.events`)).toBe(3000);
  });
});
