/**
 * One guard for all instances (response/shared-guard/), every part real: two tokenwatch instances
 * in Kafka mode (one consumer group, child processes), Kafka, ClickHouse and the reference auth
 * server as the revocation target. Two instances sharing a budget of N revoke exactly N targets
 * between them, however the findings are spread over them, and page once; a target both find is
 * revoked once.
 */
import { AssignerProtocol, type Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOfKey } from '../../platform/kafka/client.ts';
import {
  clickhouse,
  kafkaClient,
  metric,
  produce,
  queryRows,
  type RunningService,
  scalar,
  serviceSetup,
  startService,
  TENANT,
  waitUntil,
} from '../support/harness.ts';
import { type RunningAuthServer, startAuthServer } from '../support/peers.ts';

/** the shared budget: revocations per tenant per minute, for both instances together */
const BUDGET = 7;
const PARTITIONS = 4;

const ch = clickhouse();
const kafka: Kafka = kafkaClient();
let auth: RunningAuthServer | undefined;
const instances: RunningService[] = [];
let setup: ReturnType<typeof serviceSetup>;

/** A family rotated 90 s ago and its first token replayed 10 s ago (one refresh_replay finding). */
function replayed(tenant: string, subject: string, family: string, now: number): Record<string, unknown>[] {
  const base = { tenant, source: 'auth', subject, client_id: 'web', family_id: family, ip: '85.214.132.117' };
  const common = { ...base, type: 'refresh', outcome: 'rotated', reason: 'ok', device_id: `dev-${subject}` };
  return [
    {
      ...common,
      event_id: `${subject}-a`,
      time: now - 90_000,
      token_id: `${family}-0`,
      new_token_id: `${family}-1`,
    },
    {
      ...common,
      event_id: `${subject}-b`,
      time: now - 10_000,
      token_id: `${family}-0`,
      new_token_id: `${family}-2`,
    },
  ];
}

/** The partitions of the events topic each member of the detection group holds. */
async function assignment(): Promise<number[][]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([`${setup.topic}-detect`]);
    const group = groups[0];
    if (group?.state !== 'Stable') return [];
    return group.members.map((m) => {
      const a = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
      return a?.assignment[setup.topic] ?? [];
    });
  } finally {
    await admin.disconnect();
  }
}

/** A subject of `tenant` whose events the producers' default partitioner puts on `partition`. */
function subjectOn(tenant: string, partition: number, prefix: string): string {
  for (let i = 0; ; i++) {
    const subject = `${prefix}-${i}`;
    if (partitionOfKey(`${tenant}:${subject}`, PARTITIONS) === partition) return subject;
  }
}

const decisionsOf = async (tw: RunningService) => metric(tw.url, 'tokenwatch_response_decisions_total');

beforeAll(async () => {
  auth = await startAuthServer({ AUTH_CLIENTS: 'tokenwatch:tw-client-secret:revoke' });
  setup = serviceSetup({
    kafka: true,
    extra: {
      TOKENWATCH_AUTH_REVOKE_URL: `${auth.url}/v1/revocations`,
      TOKENWATCH_AUTH_TOKEN_URL: `${auth.url}/oauth/token`,
      TOKENWATCH_AUTH_CLIENT_ID: 'tokenwatch',
      TOKENWATCH_AUTH_CLIENT_SECRET: 'tw-client-secret',
      TOKENWATCH_GUARD_TENANT_PER_MINUTE: String(BUDGET),
      TOKENWATCH_GUARD_TOTAL_PER_MINUTE: '1000',
      TOKENWATCH_KAFKA_TOPIC_PARTITIONS: String(PARTITIONS),
      TOKENWATCH_LOG_LEVEL: 'warn',
    },
  });
  for (let i = 0; i < 2; i++) instances.push(await startService(setup.env));
  // Both in the detection group, two partitions each.
  await waitUntil(
    'the two instances to share the partitions',
    async () => {
      const held = await assignment();
      return held.length === 2 && held.every((p) => p.length === PARTITIONS / 2);
    },
    60_000,
    500,
  );
}, 180_000);

afterAll(async () => {
  for (const tw of instances) await tw.stop().catch(() => undefined);
  await auth?.stop();
  await ch.close();
});

describe('one guard for two instances', () => {
  it(`two instances sharing a budget of ${BUDGET}: exactly ${BUDGET} revocations sent, the rest suppressed, one page`, async () => {
    const now = Date.now();
    const events = Array.from({ length: 40 }, (_, i) =>
      replayed(TENANT, `budget-${i}`, `budget-fam-${i}`, now),
    ).flat();
    await produce(kafka, setup.topic, events);

    const db = setup.database;
    await waitUntil(
      'all 40 findings decided',
      async () =>
        (await scalar(ch, `SELECT count() FROM ${db}.detections FINAL WHERE subject LIKE 'budget-%'`)) === 40,
      90_000,
      500,
    );
    const decisions = await queryRows<{ response: string; n: string }>(
      ch,
      `SELECT response, count() AS n FROM ${db}.detections FINAL WHERE subject LIKE 'budget-%' GROUP BY response`,
    );
    const count = (response: string) => Number(decisions.find((d) => d.response === response)?.n ?? 0);
    expect(count('revoke')).toBe(BUDGET);
    expect(count('suppressed')).toBe(40 - BUDGET);
    // both instances decided some of them
    for (const tw of instances) expect(await decisionsOf(tw)).toBeGreaterThan(0);

    const calls = async () =>
      (await auth!.revocationLog()).filter((r) => r.target === 'family' && r.id.startsWith('budget-fam-'));
    await waitUntil(
      'the allowed revocation calls',
      async () => (await calls()).length >= BUDGET,
      30_000,
      200,
    );
    await new Promise((r) => setTimeout(r, 2000));
    const sent = await calls();
    expect(sent).toHaveLength(BUDGET);
    expect(new Set(sent.map((c) => c.id)).size).toBe(BUDGET);

    // The first refusal trips the tenant's limit once, on whichever instance made that claim.
    let trips = 0;
    let suppressed = 0;
    for (const tw of instances) {
      trips += await metric(tw.url, 'tokenwatch_guard_trips_total', { scope: 'tenant' });
      suppressed += await metric(tw.url, 'tokenwatch_guard_suppressed_total', { scope: 'tenant' });
    }
    expect(trips).toBe(1);
    expect(suppressed).toBe(40 - BUDGET);

    // What the shared guard costs: from writing a batch's claims to having their verdicts back.
    let sum = 0;
    let batches = 0;
    for (const tw of instances) {
      sum += await metric(tw.url, 'tokenwatch_guard_claim_seconds_sum');
      batches += await metric(tw.url, 'tokenwatch_guard_claim_seconds_count');
    }
    expect(batches).toBeGreaterThan(0);
    console.info(
      `shared guard: ${batches} claim batches, mean ${((sum / batches) * 1000).toFixed(1)} ms to a verdict`,
    );
  });

  it('the same target found by both instances: one revocation, the other finding a duplicate', async () => {
    // Another tenant (its budget untouched by the flood above). Each family is reported under two
    // subjects whose events go to partitions held by different instances: both find its replay.
    const tenant = 'other';
    const [first, second] = await assignment();
    const onA = first![0]!;
    const onB = second![0]!;
    const before = await Promise.all(instances.map(decisionsOf));
    const now = Date.now();
    const families = ['both-fam-0', 'both-fam-1', 'both-fam-2'];
    const events = families.flatMap((family, i) => [
      ...replayed(tenant, subjectOn(tenant, onA, `both-a${i}`), family, now),
      ...replayed(tenant, subjectOn(tenant, onB, `both-b${i}`), family, now),
    ]);
    await produce(kafka, setup.topic, events);

    const db = setup.database;
    await waitUntil(
      'the six findings decided',
      async () =>
        (await scalar(ch, `SELECT count() FROM ${db}.detections FINAL WHERE subject LIKE 'both-%'`)) === 6,
      90_000,
      500,
    );
    const rows = await queryRows<{ target_id: string; response: string }>(
      ch,
      `SELECT target_id, response FROM ${db}.detections FINAL WHERE subject LIKE 'both-%' ORDER BY target_id, response`,
    );
    expect(rows).toEqual(
      families.flatMap((f) => [
        { target_id: f, response: 'duplicate' },
        { target_id: f, response: 'revoke' },
      ]),
    );
    // each instance decided three of them: the findings of one family were on both
    const after = await Promise.all(instances.map(decisionsOf));
    expect(after.map((n, i) => n - before[i]!)).toEqual([3, 3]);

    await new Promise((r) => setTimeout(r, 2000));
    const sent = (await auth!.revocationLog()).filter((r) => r.id.startsWith('both-fam-'));
    expect(sent.map((r) => r.id).sort()).toEqual(families);
  });
});
