/**
 * The SDK against the real thing, Kafka side (also run against Kafka 4.x by the kafka4 project):
 * tokenwatch in Kafka mode, the reference auth server reporting through the SDK's Kafka reporter,
 * and a verifier reporting through it too and following the revocation topic into its denylist.
 * - events reach the topic keyed `tenant:subject` and are stored by tokenwatch;
 * - a replayed refresh token (reported over Kafka by the auth server) gets the family's access
 *   tokens refused by the verifier (reason `revoked`) soon after the replay.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createVerifier,
  Denylist,
  type RevocationFollower,
  TokenRejectedError,
} from '../../sdk/src/index.ts';
import { createKafkaReporter, followRevocations } from '../../sdk/src/kafka.ts';
import { clickhouse, kafkaClient, scalar, TENANT, unique, waitUntil } from '../support/harness.ts';
import { BERLIN, login, SAO_PAULO, startWorld, stealFrom, stopWorld, type World } from '../support/world.ts';

const ch = clickhouse();
const brokers = [inject('kafkaBrokers')];
let w: World | undefined;
let reporter: ReturnType<typeof createKafkaReporter>;
let denylist: Denylist;
let follower: RevocationFollower;
let verify: (token: string, ip: string) => Promise<string>;
const SOURCE = unique('kafka-verifier');

beforeAll(async () => {
  w = await startWorld({
    kafka: true,
    authEnv: (setup) => ({
      AUTH_TOKENWATCH_KAFKA_BROKERS: brokers.join(','),
      AUTH_TOKENWATCH_KAFKA_TOPIC: setup.topic,
    }),
  });
  reporter = createKafkaReporter({ brokers, topic: w.topic, lingerMs: 5 });
  denylist = new Denylist();
  follower = followRevocations({ brokers, topic: w.revocationsTopic, denylist });
  const verifier = createVerifier({
    issuer: w.auth.url,
    audience: 'tokenwatch-demo-api',
    jwksUrl: `${w.auth.url}/.well-known/jwks.json`,
    algorithms: ['EdDSA'],
    reporter,
    denylist,
    tenant: TENANT,
    source: SOURCE,
  });
  /** 'ok' or the rejection reason */
  verify = (token, ip) =>
    verifier.verify(token, { ip, deviceId: 'laptop' }).then(
      () => 'ok',
      (err: unknown) => (err instanceof TokenRejectedError ? err.reason : String(err)),
    );
  await follower.ready;
});
afterAll(async () => {
  await follower?.close();
  await reporter?.close();
  denylist?.close();
  await stopWorld(w);
  await ch.close();
});

describe('SDK over Kafka, end to end', () => {
  it('the Kafka reporter keys events tenant:subject, and tokenwatch stores them', async () => {
    const users = [unique('k-a'), unique('k-b'), unique('k-c')];
    for (const user of users) {
      const { access_token } = await login(w!, user, BERLIN, 'laptop');
      for (let i = 0; i < 5; i++) expect(await verify(access_token, BERLIN)).toBe('ok');
    }
    expect(await verify('garbage', BERLIN)).toBe('malformed');
    await reporter.flush(10_000);
    expect(reporter.stats()).toMatchObject({ queued: 0, dropped: { queue_full: 0, refused: 0 } });

    const keys = new Map<string, number>();
    const consumer = kafkaClient().consumer({ groupId: unique('key-reader'), maxWaitTimeInMs: 50 });
    await consumer.connect();
    await consumer.subscribe({ topics: [w!.topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const event = JSON.parse(message.value!.toString()) as { source?: string; type: string };
        if (event.source !== SOURCE) return;
        const key = message.key!.toString();
        keys.set(key, (keys.get(key) ?? 0) + 1);
      },
    });
    try {
      await waitUntil(
        'our events on the topic',
        async () => [...keys.values()].reduce((a, b) => a + b, 0) >= 16,
        20_000,
      );
    } finally {
      await consumer.disconnect();
    }
    expect(Object.fromEntries(keys)).toStrictEqual({
      ...Object.fromEntries(users.map((u) => [`${TENANT}:${u}`, 5])),
      [`${TENANT}:`]: 1,
    });
    await waitUntil(
      'the verifications stored',
      async () =>
        (await scalar(ch, `SELECT count() FROM ${w!.database}.events FINAL WHERE source = '${SOURCE}'`)) ===
        16,
      20_000,
    );
    // the auth server's logins came over Kafka too
    const issuances = await scalar(
      ch,
      `SELECT count() FROM ${w!.database}.events FINAL WHERE type = 'issuance' AND subject IN ('${users.join("','")}')`,
    );
    expect(issuances).toBe(3);
  });

  it('a replayed refresh token: the verifier refuses the family’s access tokens as revoked soon after', async () => {
    const user = unique('k-victim');
    const stolen = await stealFrom(w!, user, async (victim) => {
      expect(await verify(victim, BERLIN)).toBe('ok');
    });
    const { victimAccessToken: victimToken, replayedAt } = stolen;
    expect(stolen.status).toBe(200);
    const attackerToken = stolen.body['access_token'] as string;
    const deniedAt = await waitUntil(
      "the attacker's token refused as revoked",
      async () => (await verify(attackerToken, SAO_PAULO)) === 'revoked' && Date.now(),
      15_000,
      20,
    );
    console.log(
      `revocation reached the verifier's denylist over Kafka ${deniedAt - replayedAt} ms after the replay`,
    );
    expect(deniedAt - replayedAt).toBeLessThan(5000);
    await waitUntil(
      "the victim's token of the family refused as revoked",
      async () => (await verify(victimToken, BERLIN)) === 'revoked',
      10_000,
      50,
    );
    expect(follower.stats().failures).toBe(0);
  });
});
