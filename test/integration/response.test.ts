/**
 * The response stage end to end, every part real: the reference auth server (a child process),
 * tokenwatch (Kafka mode, a child process), Kafka, ClickHouse, and a webhook receiver on
 * 127.0.0.1. A refresh token replayed from São Paulo gets its family revoked within a second and
 * on-call gets one signed alert; the auth API down for 30 s, tokenwatch killed with a revocation
 * open, and a flood of 10k findings are each survived as documented.
 */
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RevocationNotice } from '../../contract/revocation-notice-v1.ts';
import { verifyWebhookSignature } from '../../response/webhooks/index.ts';
import {
  API_KEY,
  clickhouse,
  getRevocations,
  kafkaClient,
  metric,
  postAll,
  queryRows,
  READ_KEY,
  scalar,
  startService,
  TENANT,
  unique,
  waitUntil,
} from '../support/harness.ts';
import {
  BERLIN,
  login,
  refresh,
  SAO_PAULO,
  startWorld,
  stealFrom,
  stopWorld,
  WEBHOOK_SECRET,
  type World,
} from '../support/world.ts';

async function readNotices(kafka: Kafka, topic: string, until: (seen: RevocationNotice[]) => boolean) {
  const seen: RevocationNotice[] = [];
  const consumer = kafka.consumer({ groupId: unique('revocations-reader'), maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.push(JSON.parse(message.value!.toString()) as RevocationNotice);
    },
  });
  try {
    return await waitUntil('revocation notices', async () => until(seen) && seen, 30_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}; seen: ${JSON.stringify(seen)}`);
  } finally {
    await consumer.disconnect();
  }
}

const ch = clickhouse();
afterAll(() => ch.close());

describe('stolen refresh token, end to end', () => {
  let w: World | undefined;
  beforeAll(async () => {
    w = await startWorld({ kafka: true });
  });
  afterAll(() => stopWorld(w));

  it('revokes the family within a second, the attacker is out, the user logs in again, on-call gets one signed alert', async () => {
    const world = w!;
    const user = unique('berliner');
    const first = await login(world, user, BERLIN, 'laptop');
    const second = await refresh(world, first.refresh_token, BERLIN, 'laptop');
    expect(second.status).toBe(200);
    const userToken = second.body['refresh_token'] as string;
    // The rotation must be in tokenwatch's state before the replay (both go through Kafka in order anyway).
    await new Promise((r) => setTimeout(r, 500));

    // The attacker replays the previous refresh token from São Paulo; the server (reuse detection off) rotates it.
    const attackAt = Date.now();
    const stolen = await refresh(world, first.refresh_token, SAO_PAULO, 'attacker-phone');
    expect(
      stolen.status,
      'the reference server rotates a replayed token when its own reuse detection is off',
    ).toBe(200);

    const revoked = await waitUntil(
      'the family revocation at the auth server',
      async () =>
        (await world.auth.revocationLog()).find((r) => r.target === 'family' && r.status_code === 200),
      15_000,
      20,
    );
    const timeToRevokeMs = revoked.received_at_ms - attackAt;
    expect(timeToRevokeMs, 'replay → revocation request received').toBeLessThan(1000);

    // The attacker's next refresh fails, and so does the user's: they must log in again.
    const attackerNext = await refresh(
      world,
      stolen.body['refresh_token'] as string,
      SAO_PAULO,
      'attacker-phone',
    );
    expect(attackerNext.status).toBe(400);
    expect(attackerNext.body['error']).toBe('invalid_grant');
    expect((await refresh(world, userToken, BERLIN, 'laptop')).status).toBe(400);
    await login(world, user, BERLIN, 'laptop');

    // One alert for the incident (three findings: replay, travel, second device), signed.
    const forUser = () => world.receiver.messages.filter((m) => m.body.includes(user));
    await waitUntil('the alert', async () => forUser().length > 0, 15_000);
    await new Promise((r) => setTimeout(r, 3000));
    expect(forUser()).toHaveLength(1);
    const alert = forUser()[0]!;
    expect(
      verifyWebhookSignature({
        secret: WEBHOOK_SECRET,
        header: String(alert.headers['tokenwatch-signature']),
        body: alert.body,
      }),
    ).toEqual({ ok: true });
    const body = JSON.parse(alert.body) as {
      alerts: { detector: string; fields: Record<string, unknown> }[];
    };
    expect(body.alerts.map((a) => a.detector)).toContain('refresh_replay');
    expect(body.alerts.map((a) => a.fields['response'])).toContain('revoke');

    // The findings carry the decision: one revokes, the others name the same revocation.
    const detections = await queryRows<{ detector: string; response: string; revocation_id: string }>(
      ch,
      `SELECT detector, response, revocation_id FROM ${world.database}.detections FINAL WHERE subject = '${user}'`,
    );
    expect(detections.filter((d) => d.response === 'revoke')).toHaveLength(1);
    const revocationIds = new Set(
      detections.filter((d) => d.revocation_id !== '').map((d) => d.revocation_id),
    );
    expect(revocationIds.size).toBe(1);

    // Audit: decided (pending) before the call, then done with the HTTP status and latency.
    const audit = await queryRows<{ status: string; http_status: number; attempt: number }>(
      ch,
      `SELECT status, http_status, attempt FROM ${world.database}.revocations WHERE subject = '${user}' ORDER BY time_ms`,
    );
    expect(audit.map((a) => a.status)).toEqual(['pending', 'done']);
    expect(Number(audit[1]!.http_status)).toBe(200);

    // The detections API shows where the revocation stands, with the time it was acknowledged.
    const api = (await (
      await fetch(`${world.tw.url}/v1/detections?subject=${user}`, {
        headers: { authorization: `Bearer ${READ_KEY}` },
      })
    ).json()) as {
      detections: { response: string; revocation: { status: string; acknowledged_ms: number } | null }[];
    };
    const revoking = api.detections.find((d) => d.response === 'revoke')!;
    expect(revoking.revocation).toMatchObject({ status: 'done', attempts: 1 });
    expect(revoking.revocation!.acknowledged_ms).toBeGreaterThanOrEqual(revoked.received_at_ms);
    console.info(
      `time to revoke (replay at the auth server → revocation request received): ${timeToRevokeMs} ms`,
    );

    // Verifiers hear of the family and of the access tokens issued in it.
    const notices = await readNotices(kafkaClient(), world.revocationsTopic, (seen) =>
      seen.some((n) => n.subject === user && n.target === 'jti'),
    );
    const mine = notices.filter((n) => n.subject === user);
    expect(mine.find((n) => n.target === 'family')).toMatchObject({
      tenant: TENANT,
      detector: 'refresh_replay',
    });
    const jtis = mine.filter((n) => n.target === 'jti');
    expect(jtis.length).toBeGreaterThanOrEqual(2); // the user's and the attacker's access tokens
    for (const n of jtis) {
      expect(n.via?.target).toBe('family');
      expect(n.expires_at_ms).toBeGreaterThan(Date.now());
    }
    // The same notices are stored for verifiers that poll GET /v1/revocations instead.
    const polled = await waitUntil(
      'the same notices over HTTP',
      async () => {
        const page = await getRevocations(world.tw.url, API_KEY);
        const stored = (page.body.notices ?? []).filter((n) => n.subject === user);
        const keys = new Set(stored.map((n) => `${n.target}:${n.id}`));
        return mine.every((n) => keys.has(`${n.target}:${n.id}`)) && stored;
      },
      10_000,
    );
    for (const n of mine) expect(polled).toContainEqual({ seq: expect.any(Number), ...n });
    expect(
      await metric(world.tw.url, 'tokenwatch_revocations_total', { target: 'family', status: 'done' }),
    ).toBe(1);
  });
});

describe('faults', () => {
  let w: World | undefined;
  beforeAll(async () => {
    w = await startWorld({ kafka: true });
  });
  afterAll(() => stopWorld(w));

  /** The auth server's log of revocation calls with the idempotency key of the first refused one. */
  async function refusedCalls(world: World) {
    const refused = await waitUntil(
      'a refused revocation call',
      async () => (await world.auth.revocationLog()).find((r) => r.status_code === 503),
      15_000,
    );
    return async () =>
      (await world.auth.revocationLog()).filter((r) => r.idempotency_key === refused.idempotency_key);
  }

  const statusesOf = (world: World, user: string) =>
    queryRows<{ status: string }>(
      ch,
      `SELECT status FROM ${world.database}.revocations WHERE subject = '${user}' ORDER BY time_ms`,
    );

  it('auth API down for 30 s: retried, completed when it returns, applied once', async () => {
    const world = w!;
    await world.auth.fault('unavailable');
    const user = unique('patient');
    const stolen = await stealFrom(world, user);
    const downSince = Date.now();
    const calls = await refusedCalls(world);
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - downSince))));
    // Retried all along (backoff ≤ 2 s, breaker open 1 s at a time), nothing revoked yet.
    const during = await calls();
    expect(during.every((r) => r.status_code === 503)).toBe(true);
    expect(during.length).toBeGreaterThan(5);

    await world.auth.fault('ok');
    const backAt = Date.now();
    await waitUntil(
      'the revocation after the API returns',
      async () => (await calls()).some((r) => r.status_code === 200),
      15_000,
      50,
    );
    expect(Date.now() - backAt, 'breaker cooldown 1 s + backoff ≤ 2 s').toBeLessThan(5000);
    const log = await calls();
    expect(log.filter((r) => r.status_code === 200 && !r.replayed)).toHaveLength(1);
    expect(log.find((r) => r.status_code === 200)!.target).toBe('family');
    expect(
      (await refresh(world, stolen.body['refresh_token'] as string, SAO_PAULO, 'attacker-phone')).status,
    ).toBe(400);

    const statuses = (await statusesOf(world, user)).map((r) => r.status);
    expect(statuses[0]).toBe('pending');
    expect(statuses.at(-1)).toBe('done');
    expect(statuses.filter((s) => s === 'retrying')).toHaveLength(during.length);
  });

  it('killed with a revocation open: completed after the restart, exactly once', async () => {
    const world = w!;
    await world.auth.fault('unavailable');
    const user = unique('interrupted');
    await stealFrom(world, user);
    const calls = await refusedCalls(world);
    await waitUntil(
      'the decision stored',
      async () => (await statusesOf(world, user))[0]?.status === 'pending',
      15_000,
    );
    await world.tw.kill();
    await world.auth.fault('ok');
    world.tw = await startService(world.env);
    await waitUntil(
      'the resumed revocation',
      async () => (await statusesOf(world, user)).some((r) => r.status === 'done'),
      30_000,
    );
    await new Promise((r) => setTimeout(r, 2000));
    const log = await calls();
    expect(log.filter((r) => r.status_code === 200)).toHaveLength(1);
    expect(log.filter((r) => r.status_code !== 503 && r.status_code !== 200)).toEqual([]);
    expect((await statusesOf(world, user)).filter((r) => r.status === 'done')).toHaveLength(1);
  });
});

describe('a flood of findings', () => {
  let w: World | undefined;
  afterAll(() => stopWorld(w));

  it('10k findings: the guard holds at its limits (30 per tenant, 50 overall beyond reserves of 3) and pages once', async () => {
    // (retries of the suppressed, once a tenant's minute ebbs, are the fair-guard drill's: off here)
    w = await startWorld({
      kafka: true,
      extra: { TOKENWATCH_GUARD_TOTAL_PER_MINUTE: '50', TOKENWATCH_GUARD_RETRY_SUPPRESSED_MS: '0' },
    });
    const world = w;
    // 10,000 families replayed (rotation, then the rotated token again 80 s later from the same
    // place): one refresh_replay finding each, 5,000 per tenant.
    const now = Date.now();
    const events: Record<string, unknown>[] = [];
    for (let i = 0; i < 10_000; i++) {
      const tenant = i % 2 === 0 ? TENANT : 'other';
      const base = {
        tenant,
        source: 'auth',
        subject: `flood-${i}`,
        client_id: 'web',
        family_id: `flood-fam-${i}`,
        ip: BERLIN,
        device_id: `dev-${i}`,
      };
      events.push(
        {
          ...base,
          event_id: `flood-${i}-a`,
          type: 'refresh',
          time: now - 90_000,
          outcome: 'rotated',
          reason: 'ok',
          token_id: `f${i}-0`,
          new_token_id: `f${i}-1`,
        },
        {
          ...base,
          event_id: `flood-${i}-b`,
          type: 'refresh',
          time: now - 10_000,
          outcome: 'rotated',
          reason: 'ok',
          token_id: `f${i}-0`,
          new_token_id: `f${i}-2`,
        },
      );
    }
    const byTenant = (t: string) => events.filter((e) => e['tenant'] === t);
    await postAll(world.tw.url, byTenant(TENANT), 2000, 2);
    await postAll(world.tw.url, byTenant('other'), 2000, 2, 'other-key-0123456789abcdef');

    await waitUntil(
      'all 10k findings decided',
      async () =>
        (await scalar(
          ch,
          `SELECT count() FROM ${world.database}.detections FINAL WHERE subject LIKE 'flood-%'`,
        )) === 10_000,
      120_000,
      1000,
    );
    const decisions = await queryRows<{ tenant: string; response: string; n: string }>(
      ch,
      `SELECT tenant, response, count() AS n FROM ${world.database}.detections FINAL WHERE subject LIKE 'flood-%' GROUP BY tenant, response ORDER BY tenant, response`,
    );
    const count = (tenant: string, response: string) =>
      Number(decisions.find((d) => d.tenant === tenant && d.response === response)?.n ?? 0);
    const revokedAcme = count(TENANT, 'revoke');
    const revokedOther = count('other', 'revoke');
    expect(revokedAcme).toBeLessThanOrEqual(30);
    expect(revokedOther).toBeLessThanOrEqual(30);
    // each tenant's reserve of 3, and 50 overall beyond them
    expect(revokedAcme + revokedOther).toBe(56);
    expect(count(TENANT, 'suppressed') + count('other', 'suppressed')).toBe(10_000 - 56);

    // The auth server got exactly the allowed revocations (unknown families: 404, not_found).
    await waitUntil(
      'the allowed revocation calls',
      async () => (await world.auth.revocationLog()).length === 56,
      30_000,
    );
    expect(
      (await metric(world.tw.url, 'tokenwatch_guard_suppressed_total', { scope: 'tenant' })) +
        (await metric(world.tw.url, 'tokenwatch_guard_suppressed_total', { scope: 'total' })),
    ).toBe(9944);

    // One page for the guard, and the detections folded rather than 10,000 messages.
    await new Promise((r) => setTimeout(r, 4000));
    const guardPages = world.receiver.messages.filter((m) => m.body.includes('"guard_tripped"'));
    expect(guardPages).toHaveLength(1);
    expect(world.receiver.messages.length).toBeLessThan(20);
    expect((await world.auth.revocationLog()).length).toBe(56);
  });
});
