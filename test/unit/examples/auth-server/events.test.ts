import { afterEach, describe, expect, it } from 'vitest';
import { validateEventValue } from '../../../../ingest/pipeline/validate.ts';
import {
  claimsOf,
  EventReceiver,
  login,
  postJson,
  REVOCATION_TOKEN,
  refresh,
  startServer,
  type TestServer,
} from './helpers.ts';

let server: TestServer | undefined;
let receiver: EventReceiver | undefined;
afterEach(async () => {
  await server?.close();
  await receiver?.close();
  server = undefined;
  receiver = undefined;
});

const VALIDATION = { eventBytes: 16_384, maxEventAgeSeconds: 3600, maxFutureSkewSeconds: 60 };

describe('events reported to tokenwatch', () => {
  it('issuance, refresh and revocation events follow the contract and never carry a raw token', async () => {
    receiver = await new EventReceiver().start();
    server = await startServer({
      AUTH_TOKENWATCH_URL: receiver.url,
      AUTH_TOKENWATCH_API_KEY: 'tw-api-key',
      AUTH_TENANT: 'acme',
      AUTH_SOURCE: 'auth-test',
      AUTH_TRUST_PROXY: '127.0.0.1',
    });
    const client = {
      'user-agent': 'test-agent/1.0',
      'x-device-id': 'device-7',
      'x-forwarded-for': '85.214.132.117',
    };
    const grant = await login(server, 'alice', 'alice-pw', client);
    const rotated = await refresh(server, grant.refresh_token, client);
    const replayed = await refresh(server, grant.refresh_token, { 'x-forwarded-for': '200.147.67.142' });
    const sid = claimsOf(grant.access_token)['sid'];
    await postJson(
      `${server.url}/v1/revocations`,
      { target: 'session', id: sid },
      { authorization: `Bearer ${REVOCATION_TOKEN}`, 'idempotency-key': 'k-1' },
    );
    await receiver.waitFor((events) => events.length === 4);

    const [issuance, refreshed, replay, revocation] = receiver.events;
    const access = claimsOf(grant.access_token);
    const common = {
      event_id: expect.any(String),
      time: expect.any(Number),
      tenant: 'acme',
      source: 'auth-test',
      subject: 'alice',
      client_id: 'web',
      session_id: sid,
    };
    expect(issuance).toEqual({
      ...common,
      type: 'issuance',
      outcome: 'ok',
      reason: 'password',
      ip: '85.214.132.117',
      user_agent: 'test-agent/1.0',
      device_id: 'device-7',
      device_id_source: 'header',
      family_id: expect.stringMatching(/^fam_/),
      token_id: grant.refresh_token.slice(3, grant.refresh_token.indexOf('.')),
      access_jti: access['jti'],
      jti: access['jti'],
      iss: server.url,
      aud: 'tokenwatch-demo-api',
      kid: expect.any(String),
      alg: 'EdDSA',
      iat: access['iat'],
      exp: access['exp'],
    });
    expect(refreshed).toMatchObject({
      ...common,
      type: 'refresh',
      outcome: 'rotated',
      reason: 'ok',
      family_id: issuance?.['family_id'],
      token_id: issuance?.['token_id'],
      new_token_id: expect.any(String),
      access_jti: claimsOf(rotated.body['access_token'] as string)['jti'],
    });
    expect(replay).toMatchObject({
      type: 'refresh',
      outcome: 'rotated',
      ip: '200.147.67.142',
      token_id: issuance?.['token_id'],
    });
    expect(replay).not.toHaveProperty('device_id');
    expect(revocation).toMatchObject({
      type: 'revocation',
      subject: 'alice',
      session_id: sid,
      reason: 'revocation_api',
    });
    expect(new Set(receiver.events.map((e) => e['event_id'])).size).toBe(4);

    for (const event of receiver.events) {
      expect(validateEventValue(event, VALIDATION, { nowMs: Date.now(), tenant: 'acme' })).toMatchObject({
        ok: true,
      });
    }
    const sent = receiver.requests.map((r) => r.body).join('\n');
    const secrets = [grant, rotated.body, replayed.body].flatMap(
      (g) => [g.access_token, g.refresh_token] as string[],
    );
    for (const secret of secrets) {
      expect(sent).not.toContain(secret);
      expect(sent).not.toContain(secret.slice(secret.indexOf('.') + 1)); // refresh secret / JWT payload
    }
    expect(receiver.requests.every((r) => r.authorization === 'Bearer tw-api-key')).toBe(true);
  });

  it('without AUTH_TOKENWATCH_URL nothing is reported and requests work', async () => {
    server = await startServer();
    expect((await login(server)).access_token).toMatch(/^ey/);
  });
});
