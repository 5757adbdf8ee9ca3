/** The HTTP door in single-process mode (no Kafka): formats, auth, tenants, per-event errors, operations endpoints. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  API_KEY,
  clickhouse,
  makeEvents,
  metric,
  postEvents,
  postRaw,
  queryRows,
  type RunningService,
  scalar,
  serviceSetup,
  startService,
  TENANT,
  waitUntil,
} from '../support/harness.ts';

describe('HTTP ingest without Kafka', () => {
  const setup = serviceSetup({ kafka: false, extra: { TOKENWATCH_BATCH_MAX_WAIT_MS: '100' } });
  const ch = clickhouse();
  let service: RunningService;
  beforeAll(async () => {
    service = await startService(setup.env);
  });
  afterAll(async () => {
    expect(await service?.stop()).toBe(0);
    await ch.close();
  });

  it('answers after the events are stored (a 200 means durable)', async () => {
    const events = makeEvents(500, { prefix: 'nd' });
    const res = await postEvents(service.url, events);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 500, rejected: 0, errors: [] });
    expect(await scalar(ch, `SELECT count() FROM ${setup.database}.events WHERE event_id LIKE 'nd-%'`)).toBe(
      500,
    );
  });

  it('takes a JSON array, a single JSON object and gzip', async () => {
    const arr = makeEvents(3, { prefix: 'arr' });
    const res = await postRaw(service.url, JSON.stringify(arr), {
      'content-type': 'application/json; charset=utf-8',
      'x-api-key': API_KEY,
    });
    expect(res.body).toEqual({ accepted: 3, rejected: 0, errors: [] });
    const one = await postRaw(service.url, JSON.stringify(makeEvents(1, { prefix: 'one' })[0]), {
      'content-type': 'application/json',
      'x-api-key': API_KEY,
    });
    expect(one.body.accepted).toBe(1);
    const gz = await postEvents(service.url, makeEvents(10, { prefix: 'gz' }), { gzip: true });
    expect(gz.body.accepted).toBe(10);
    expect(
      await scalar(
        ch,
        `SELECT count() FROM ${setup.database}.events WHERE match(event_id, '^(arr|one|gz)-')`,
      ),
    ).toBe(14);
  });

  it('gives per-event errors by index (NDJSON: among non-empty lines) and stores the rest', async () => {
    const [a, b] = makeEvents(2, { prefix: 'idx' });
    const body = [
      JSON.stringify(a),
      '',
      '{oops',
      '   ',
      JSON.stringify({ ...b, ip: 'not-an-ip' }),
      JSON.stringify(b),
    ].join('\r\n');
    const res = await postRaw(service.url, body, {
      'content-type': 'application/x-ndjson',
      authorization: `bearer ${API_KEY}`,
    });
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(2);
    expect(res.body.errors).toEqual([
      { index: 1, code: 'malformed_json', message: expect.stringContaining('not valid JSON') },
      {
        index: 2,
        code: 'invalid_ip',
        field: '/ip',
        message: 'ip "not-an-ip" is not an IPv4 or IPv6 address',
      },
    ]);
    const letters = await queryRows<{ event_index: number; code: string; tenant: string; door: string }>(
      ch,
      `SELECT event_index, code, tenant, door FROM ${setup.database}.dead_letters WHERE code IN ('malformed_json', 'invalid_ip') ORDER BY event_index`,
    );
    expect(letters).toEqual([
      { event_index: 1, code: 'malformed_json', tenant: 'acme', door: 'http' },
      { event_index: 2, code: 'invalid_ip', tenant: 'acme', door: 'http' },
    ]);
  });

  it("sets the tenant from the API key and refuses another tenant's events", async () => {
    const [e] = makeEvents(1, { prefix: 'ten' });
    const { tenant: _, ...withoutTenant } = e!;
    const res = await postEvents(service.url, [
      withoutTenant,
      { ...e, event_id: 'ten-x', tenant: 'acme' },
      { ...e, event_id: 'ten-y', tenant: 'other' },
    ]);
    expect(res.body.accepted).toBe(2);
    expect(res.body.errors?.[0]).toMatchObject({ index: 2, code: 'tenant_mismatch' });
    const other = await postEvents(service.url, [{ ...e, event_id: 'ten-z', tenant: 'other' }], {
      key: 'other-key-0123456789abcdef',
    });
    expect(other.body.accepted).toBe(1);
    const rows = await queryRows<{ event_id: string; tenant: string }>(
      ch,
      `SELECT event_id, tenant FROM ${setup.database}.events WHERE event_id LIKE 'ten-%' ORDER BY event_id`,
    );
    expect(rows).toEqual([
      { event_id: 'ten-0', tenant: 'acme' },
      { event_id: 'ten-x', tenant: 'acme' },
      { event_id: 'ten-z', tenant: 'other' },
    ]);
  });

  it('keeps unknown fields out of the typed columns', async () => {
    const [e] = makeEvents(1, { prefix: 'extra' });
    await postEvents(service.url, [{ ...e, region_hint: 'eu', nested: { a: [1, 2] } }]);
    const [row] = await queryRows<{ extra: string }>(
      ch,
      `SELECT extra FROM ${setup.database}.events WHERE event_id = 'extra-0'`,
    );
    expect(JSON.parse(row!.extra)).toEqual({ region_hint: 'eu', nested: { a: [1, 2] } });
  });

  it('dead-letters a finding ClickHouse refuses and stores the others: no row blocks the detections writer', async () => {
    const own = serviceSetup({ kafka: false, extra: { TOKENWATCH_BATCH_MAX_WAIT_MS: '100' } });
    const svc = await startService(own.env);
    try {
      // `subject` made numeric under the running service: a finding about "alice" cannot be stored.
      await ch.command({ query: `ALTER TABLE ${own.database}.detections MODIFY COLUMN subject UInt64` });
      const now = Date.now();
      const replay = (subject: string) => {
        const base = {
          type: 'refresh',
          tenant: TENANT,
          subject,
          family_id: `fam-${subject}`,
          source: 'auth',
        };
        return [
          {
            ...base,
            event_id: `${subject}-rot`,
            time: now - 60_000,
            token_id: 'rt0',
            new_token_id: 'rt1',
            outcome: 'rotated',
            reason: 'ok',
            device_id: 'laptop',
            ip: '85.214.132.117',
          },
          {
            ...base,
            event_id: `${subject}-replay`,
            time: now,
            token_id: 'rt0',
            new_token_id: 'rtx',
            outcome: 'rotated',
            reason: 'ok',
            device_id: 'thief',
            ip: '200.147.67.142',
          },
        ];
      };
      expect((await postEvents(svc.url, [...replay('alice'), ...replay('12345')])).status).toBe(200);
      await waitUntil(
        'the finding about 12345 stored',
        async () =>
          (await scalar(
            ch,
            `SELECT count() FROM ${own.database}.detections WHERE subject = 12345 AND detector = 'refresh_replay'`,
          )) > 0 || undefined,
      );
      const letters = await waitUntil('the refused findings dead-lettered', async () => {
        const rows = await queryRows<{ origin: string; code: string; tenant: string; payload: string }>(
          ch,
          `SELECT origin, code, tenant, payload FROM ${own.database}.dead_letters WHERE door = 'clickhouse'`,
        );
        return rows.length > 0 ? rows : undefined;
      });
      expect(
        letters.every(
          (l) => l.origin === 'clickhouse insert into detections' && l.code === 'insert_rejected',
        ),
      ).toBe(true);
      expect(letters.some((l) => JSON.parse(l.payload).subject === 'alice')).toBe(true);
      expect(await metric(svc.url, 'tokenwatch_rows_refused_total', { table: 'detections' })).toBe(
        letters.length,
      );
      // Nothing waits behind the refused rows: the service stays ready and keeps storing.
      expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);
      expect((await postEvents(svc.url, makeEvents(5, { prefix: 'after-refusal' }))).status).toBe(200);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('dead-letters the rows ClickHouse itself refuses and stores the others (a column type changed under it)', async () => {
    const own = serviceSetup({ kafka: false, extra: { TOKENWATCH_BATCH_MAX_WAIT_MS: '100' } });
    const typed = await startService(own.env);
    try {
      await ch.command({ query: `ALTER TABLE ${own.database}.events MODIFY COLUMN device_id UInt64` });
      const events = makeEvents(20, { prefix: 'typed' }).map((e, i) => ({
        ...e,
        device_id: i === 5 ? 'laptop-5' : String(1000 + i),
      }));
      const res = await postEvents(typed.url, events);
      expect(res.status).toBe(200);
      expect(await scalar(ch, `SELECT count() FROM ${own.database}.events`)).toBe(19);
      const letters = await queryRows<{ event_id: string; door: string; code: string; message: string }>(
        ch,
        `SELECT event_id, door, code, message FROM ${own.database}.dead_letters`,
      );
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ event_id: 'typed-5', door: 'clickhouse', code: 'insert_rejected' });
      expect(letters[0]!.message).toContain('ClickHouse refused the row');
      expect(
        await metric(typed.url, 'tokenwatch_events_rejected_total', {
          class: 'insert_rejected',
          door: 'clickhouse',
        }),
      ).toBe(1);
    } finally {
      expect(await typed.stop()).toBe(0);
    }
  });

  it('serves /healthz, /readyz and /metrics', async () => {
    expect(await (await fetch(`${service.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${service.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { clickhouse: true, migrations: true, storage: true, detectors: true },
    });
    const text = await (await fetch(`${service.url}/metrics`)).text();
    for (const name of [
      'tokenwatch_events_total',
      'tokenwatch_events_rejected_total',
      'tokenwatch_insert_batch_rows_bucket',
      'tokenwatch_insert_duration_seconds_bucket',
      'tokenwatch_buffer_rows',
      'tokenwatch_detector_events_total',
      'tokenwatch_detector_state_keys',
      'tokenwatch_detector_state_max_keys',
      'tokenwatch_process_resident_memory_bytes',
    ]) {
      expect(text).toContain(name);
    }
    expect(
      await metric(service.url, 'tokenwatch_events_total', {
        type: 'verification',
        outcome: 'rejected',
        reason: 'expired',
      }),
    ).toBeGreaterThan(0);
    expect(
      await metric(service.url, 'tokenwatch_events_rejected_total', { class: 'invalid_ip', door: 'http' }),
    ).toBe(1);
  });
});
