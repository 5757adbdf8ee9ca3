/**
 * Drill of the Kafka door's trust (issue "Trust model", tenant spoofing on Kafka), every part real:
 * Kafka, ClickHouse, the reference auth server and tokenwatch in Kafka mode with two producer topics
 * bound to tenant acme (one verifier, one auth-server) and a relay secret. A verifier's producer
 * names another tenant and reports the auth server's facts; a producer writes forged reporter
 * headers on the shared events topic. None is believed, each refusal is dead-lettered with its code
 * and counted, the good events beside them are stored, and a real reuse reported on the auth
 * server's topic still revokes its family.
 */
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clickhouse,
  kafkaClient,
  metric,
  postEvents,
  queryRows,
  type RunningService,
  serviceSetup,
  startService,
  TENANT,
  unique,
  waitUntil,
} from '../support/harness.ts';
import { BERLIN, login, SAO_PAULO, startWorld, stopWorld, type World } from '../support/world.ts';

const AUTH_KEY = 'auth-server-key-0123456789';
const VERIFIER_KEY = 'verifier-key-0123456789ab';
const RELAY_SECRET = 'relay-secret-0123456789abcdef-0123456789';

const ch = clickhouse();
afterAll(() => ch.close());

async function send(
  kafka: Kafka,
  topic: string,
  messages: { key?: string; value: Record<string, unknown>; headers?: Record<string, string> }[],
) {
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: messages.map((m) => ({
        key: m.key ?? `${m.value['tenant']}:${m.value['subject']}`,
        value: JSON.stringify(m.value),
        ...(m.headers ? { headers: m.headers } : {}),
      })),
    });
  } finally {
    await producer.disconnect();
  }
}

const verification = (tenant: string, subject: string, over: Record<string, unknown> = {}) => ({
  type: 'verification',
  event_id: unique('v'),
  time: Date.now(),
  tenant,
  subject,
  outcome: 'accepted',
  reason: 'ok',
  jti: unique('jti'),
  ip: BERLIN,
  ...over,
});

const reuse = (subject: string, family_id: string) => ({
  type: 'refresh',
  event_id: unique('reuse'),
  time: Date.now(),
  tenant: TENANT,
  subject,
  outcome: 'rejected',
  reason: 'reuse_detected',
  family_id,
  token_id: unique('rt'),
  ip: SAO_PAULO,
});

describe('Kafka producers bound to a tenant and role', () => {
  const verifiers = unique('acme-verifiers');
  const authTopic = unique('acme-auth');
  let w: World | undefined;
  const kafka = kafkaClient();

  beforeAll(async () => {
    w = await startWorld({
      kafka: true,
      extra: {
        TOKENWATCH_API_KEYS: `${TENANT}:${AUTH_KEY}:auth-server,${TENANT}:${VERIFIER_KEY}:verifier`,
        TOKENWATCH_KAFKA_PRODUCER_TOPICS: `${verifiers}=${TENANT}:verifier,${authTopic}=${TENANT}:auth-server`,
        TOKENWATCH_RELAY_SECRET: RELAY_SECRET,
      },
      authEnv: () => ({ AUTH_TOKENWATCH_API_KEY: AUTH_KEY }),
    });
  });
  afterAll(() => stopWorld(w));

  const deadLetters = (world: World, marker: string) =>
    queryRows<{ code: string; tenant: string; door: string }>(
      ch,
      `SELECT code, tenant, door FROM ${world.database}.dead_letters FINAL WHERE position(payload, '${marker}') > 0 ORDER BY code`,
    );

  it('a verifier’s topic: another tenant and the auth server’s facts refused per event, the good events stored', async () => {
    const world = w!;
    const victim = unique('victim');
    await login(world, victim, BERLIN, 'laptop');
    const family = await waitUntil('the victim’s issuance', async () => {
      const [row] = await queryRows<{ family_id: string }>(
        ch,
        `SELECT family_id FROM ${world.database}.events WHERE subject = '${victim}' AND type = 'issuance' LIMIT 1`,
      );
      return row?.family_id;
    });
    const marker = unique('mark');
    const good = [
      verification(TENANT, unique('user'), { source: marker }),
      verification(TENANT, unique('user'), { source: marker }),
    ];
    const spoofed = verification('other', unique('user-b'), { source: marker });
    const framed = { ...reuse(victim, family), source: marker };
    await send(kafka, verifiers, [
      { value: good[0]! },
      // another tenant, keyed as that tenant: the topic says whose it is
      { value: spoofed },
      // the auth server's word, with forged headers claiming the auth server's role
      {
        value: framed,
        headers: { 'tokenwatch-reporter-id': 'acme:auth', 'tokenwatch-reporter-role': 'auth-server' },
      },
      { value: good[1]! },
    ]);

    const stored = await waitUntil('the good events stored', async () => {
      const rows = await queryRows<{
        event_id: string;
        tenant: string;
        reporter_id: string;
        reporter_role: string;
        reporter_door: string;
      }>(
        ch,
        `SELECT event_id, tenant, reporter_id, reporter_role, reporter_door FROM ${world.database}.events WHERE source = '${marker}' ORDER BY event_id`,
      );
      return rows.length >= 2 && rows;
    });
    expect(stored).toEqual(
      good
        .map((e) => ({
          event_id: e.event_id,
          tenant: TENANT,
          reporter_id: `topic:${verifiers}`,
          reporter_role: 'verifier',
          reporter_door: 'kafka',
        }))
        .sort((a, b) => a.event_id.localeCompare(b.event_id)),
    );
    const letters = await waitUntil('both refusals dead-lettered', async () => {
      const rows = await deadLetters(world, marker);
      return rows.length >= 2 && rows;
    });
    expect(letters).toEqual(
      [
        { code: 'tenant_mismatch', tenant: TENANT, door: 'kafka' },
        { code: 'outside_role', tenant: TENANT, door: 'kafka' },
      ].sort((a, b) => a.code.localeCompare(b.code)),
    );
    const ofB = await queryRows<{ n: string }>(
      ch,
      `SELECT count() AS n FROM ${world.database}.events WHERE tenant = 'other'`,
    );
    expect(Number(ofB[0]?.n)).toBe(0);
    expect(
      await metric(world.tw.url, 'tokenwatch_events_rejected_total', {
        class: 'tenant_mismatch',
        door: 'kafka',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await metric(world.tw.url, 'tokenwatch_events_rejected_total', {
        class: 'outside_role',
        door: 'kafka',
      }),
    ).toBeGreaterThanOrEqual(1);

    // A real reuse, reported on the auth server's topic: its family is revoked.
    const attacked = unique('attacked');
    await login(world, attacked, BERLIN, 'laptop');
    const attackedFamily = await waitUntil('the attacked user’s issuance', async () => {
      const [row] = await queryRows<{ family_id: string }>(
        ch,
        `SELECT family_id FROM ${world.database}.events WHERE subject = '${attacked}' AND type = 'issuance' LIMIT 1`,
      );
      return row?.family_id;
    });
    await send(kafka, authTopic, [{ value: reuse(attacked, attackedFamily) }]);
    await waitUntil(
      'the real reuse revoked',
      async () =>
        (await world.auth.revocationLog()).find(
          (r) => r.target === 'family' && r.id === attackedFamily && r.status_code === 200,
        ),
      30_000,
    );
    const reported = await waitUntil('the reuse stored', async () => {
      const [row] = await queryRows<{ reporter_id: string; reporter_role: string }>(
        ch,
        `SELECT reporter_id, reporter_role FROM ${world.database}.events WHERE subject = '${attacked}' AND type = 'refresh' LIMIT 1`,
      );
      return row;
    });
    expect(reported).toEqual({ reporter_id: `topic:${authTopic}`, reporter_role: 'auth-server' });
    // The framed victim was not touched.
    const log = await world.auth.revocationLog();
    expect(log.filter((r) => r.id === family || r.id === victim)).toEqual([]);
  });

  it('forged reporter headers on the shared events topic are refused; the relay’s signed ones believed', async () => {
    const world = w!;
    const marker = unique('mark');
    const forged = verification(TENANT, unique('user'), { source: marker });
    await send(kafka, world.topic, [
      {
        value: forged,
        headers: { 'tokenwatch-reporter-id': 'acme:auth', 'tokenwatch-reporter-role': 'auth-server' },
      },
      {
        value: { ...verification(TENANT, unique('user')), source: marker, event_id: unique('badsig') },
        headers: {
          'tokenwatch-reporter-id': 'acme:auth',
          'tokenwatch-reporter-role': 'auth-server',
          'tokenwatch-reporter-door': 'http',
          'tokenwatch-reporter-sig': 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
        },
      },
    ]);
    // An event through the HTTP door is relayed with signed headers and keeps its reporter.
    const viaHttp = verification(TENANT, unique('user'), { source: marker });
    const posted = await postEvents(world.tw.url, [viaHttp], { key: VERIFIER_KEY });
    expect(posted.body.accepted).toBe(1);
    const letters = await waitUntil('the forged headers dead-lettered', async () => {
      const rows = await deadLetters(world, marker);
      return rows.length >= 2 && rows;
    });
    expect(letters).toEqual([
      { code: 'unverified_reporter', tenant: TENANT, door: 'kafka' },
      { code: 'unverified_reporter', tenant: TENANT, door: 'kafka' },
    ]);
    const stored = await waitUntil('the relayed event stored', async () => {
      const rows = await queryRows<{ event_id: string; reporter_role: string; reporter_door: string }>(
        ch,
        `SELECT event_id, reporter_role, reporter_door FROM ${world.database}.events WHERE source = '${marker}'`,
      );
      return rows.length >= 1 && rows;
    });
    expect(stored).toEqual([
      { event_id: viaHttp.event_id, reporter_role: 'verifier', reporter_door: 'http' },
    ]);
  });
});

describe('every producer bound: the shared topic takes only what tokenwatch relayed', () => {
  const verifiers = unique('acme-verifiers');
  const setup = serviceSetup({
    kafka: true,
    extra: {
      TOKENWATCH_API_KEYS: `${TENANT}:${VERIFIER_KEY}:verifier`,
      TOKENWATCH_KAFKA_PRODUCER_TOPICS: `${verifiers}=${TENANT}:verifier`,
      TOKENWATCH_RELAY_SECRET: RELAY_SECRET,
      TOKENWATCH_KAFKA_REQUIRE_REPORTER: 'true',
    },
  });
  const kafka = kafkaClient();
  let service: RunningService | undefined;
  beforeAll(async () => {
    service = await startService(setup.env);
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('refuses a legacy producer’s message on the shared topic; relayed events (bound topic, HTTP) are stored', async () => {
    const marker = unique('mark');
    const legacy = verification(TENANT, unique('user'), { source: marker });
    const bound = verification(TENANT, unique('user'), { source: marker });
    const viaHttp = verification(TENANT, unique('user'), { source: marker });
    await send(kafka, setup.topic, [{ value: legacy }]);
    await send(kafka, verifiers, [{ value: bound }]);
    expect((await postEvents(service!.url, [viaHttp], { key: VERIFIER_KEY })).body.accepted).toBe(1);
    const stored = await waitUntil('the relayed events stored', async () => {
      const rows = await queryRows<{ event_id: string }>(
        ch,
        `SELECT event_id FROM ${setup.database}.events WHERE source = '${marker}' ORDER BY event_id`,
      );
      return rows.length >= 2 && rows;
    });
    expect(stored.map((r) => r.event_id)).toEqual([bound.event_id, viaHttp.event_id].sort());
    const letters = await waitUntil('the legacy message dead-lettered', async () => {
      const rows = await queryRows<{ code: string }>(
        ch,
        `SELECT code FROM ${setup.database}.dead_letters FINAL WHERE position(payload, '${legacy.event_id}') > 0`,
      );
      return rows.length >= 1 && rows;
    });
    expect(letters).toEqual([{ code: 'unverified_reporter' }]);
  });
});
