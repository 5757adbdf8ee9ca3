import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EventReceiver,
  login,
  postJson,
  REVOCATION_TOKEN,
  refresh,
  startServer,
  type TestServer,
} from './helpers.ts';

let server: TestServer;
let receiver: EventReceiver;

beforeEach(async () => {
  receiver = await new EventReceiver().start();
});
afterEach(async () => {
  await server.close();
  await receiver.close();
});

const reporting = (env: Record<string, string> = {}) =>
  startServer({ AUTH_TOKENWATCH_URL: receiver.url, AUTH_TOKENWATCH_API_KEY: 'tw-api-key', ...env });

const ofType = (type: string) => receiver.events.filter((e) => e['type'] === type);
const refreshEvents = () => ofType('refresh');

describe('refresh-token rotation', () => {
  it('rotates within the family: a new refresh token and access token each time', async () => {
    server = await reporting();
    const first = await login(server);
    const second = await refresh(server, first.refresh_token);
    expect(second.status).toBe(200);
    const third = await postJson(`${server.url}/oauth/token`, {
      grant_type: 'refresh_token',
      refresh_token: second.body['refresh_token'],
    }); // JSON works as well as form-encoded
    expect(third.status).toBe(200);
    expect(
      new Set([first.refresh_token, second.body['refresh_token'], third.body['refresh_token']]).size,
    ).toBe(3);

    await receiver.waitFor(() => refreshEvents().length === 2);
    const [issuance] = ofType('issuance');
    const [r1, r2] = refreshEvents();
    expect(r1).toMatchObject({ outcome: 'rotated', reason: 'ok', family_id: issuance?.['family_id'] });
    expect(r1?.['token_id']).toBe(issuance?.['token_id']);
    expect(r2?.['token_id']).toBe(r1?.['new_token_id']);
  });

  it('reuse detection off: the rotated token rotates again (the family forks) and is reported rotated', async () => {
    server = await reporting();
    const grant = await login(server);
    expect((await refresh(server, grant.refresh_token)).status).toBe(200);
    const replay = await refresh(server, grant.refresh_token);
    expect(replay.status).toBe(200);
    expect(replay.body['refresh_token']).toMatch(/^rt_/);

    await receiver.waitFor(() => refreshEvents().length === 2);
    const [legit, replayed] = refreshEvents();
    expect(replayed).toMatchObject({ outcome: 'rotated', reason: 'ok', token_id: legit?.['token_id'] });
    expect(replayed?.['family_id']).toBe(legit?.['family_id']);
    expect(ofType('revocation')).toEqual([]);
  });

  it('reuse detection on: the rotated token is refused, its family revoked, reuse_detected reported', async () => {
    server = await reporting({ AUTH_REUSE_DETECTION: 'true' });
    const grant = await login(server);
    const rotated = await refresh(server, grant.refresh_token);
    const replay = await refresh(server, grant.refresh_token);
    expect(replay.status).toBe(400);
    expect(replay.body).toMatchObject({
      error: 'invalid_grant',
      error_description: expect.stringContaining('already used'),
    });

    // The whole family is gone: the newest token fails too.
    const newest = await refresh(server, rotated.body['refresh_token'] as string);
    expect(newest.status).toBe(400);

    await receiver.waitFor(() => refreshEvents().length === 3 && ofType('revocation').length === 1);
    const [, reuse, afterRevoke] = refreshEvents();
    expect(reuse).toMatchObject({ outcome: 'rejected', reason: 'reuse_detected' });
    expect(afterRevoke).toMatchObject({ outcome: 'rejected', reason: 'revoked' });
    expect(ofType('revocation')[0]).toMatchObject({ family_id: reuse?.['family_id'], subject: 'alice' });
    expect(ofType('revocation')[0]).toMatchObject({ reason: 'reuse_detected' });
  });

  it('a family revoked through /v1/revocations refuses every one of its tokens, reported revoked', async () => {
    server = await reporting();
    const grant = await login(server);
    const rotated = await refresh(server, grant.refresh_token);
    await receiver.waitFor(() => ofType('issuance').length === 1);
    const familyId = ofType('issuance')[0]?.['family_id'];

    const revoked = await postJson(
      `${server.url}/v1/revocations`,
      { target: 'family', id: familyId, subject: 'alice', detector: 'refresh_replay', severity: 'high' },
      { authorization: `Bearer ${REVOCATION_TOKEN}`, 'idempotency-key': 'det-1' },
    );
    expect(revoked.body).toMatchObject({
      status: 'revoked',
      target: 'family',
      id: familyId,
      access_jtis_denied: 2,
    });

    for (const token of [grant.refresh_token, rotated.body['refresh_token'] as string]) {
      const response = await refresh(server, token);
      expect(response.status).toBe(400);
      expect(response.body['error']).toBe('invalid_grant');
    }
    await receiver.waitFor(() => refreshEvents().length === 3);
    expect(refreshEvents().slice(1)).toEqual([
      expect.objectContaining({ outcome: 'rejected', reason: 'revoked', family_id: familyId }),
      expect.objectContaining({ outcome: 'rejected', reason: 'revoked', family_id: familyId }),
    ]);
  });

  it('an expired family is refused and reported expired', async () => {
    server = await reporting({ AUTH_REFRESH_TTL_SECONDS: '1' });
    const grant = await login(server);
    await new Promise((resolve) => setTimeout(resolve, 1050));
    const response = await refresh(server, grant.refresh_token);
    expect(response.status).toBe(400);
    await receiver.waitFor(() => refreshEvents().length === 1);
    expect(refreshEvents()[0]).toMatchObject({ outcome: 'rejected', reason: 'expired' });
  });

  it('a garbled token is invalid_grant; a known token id with a wrong secret is reported invalid_secret', async () => {
    server = await reporting();
    const grant = await login(server);
    expect((await refresh(server, 'garbage')).body['error']).toBe('invalid_grant');
    const forged = `${grant.refresh_token.slice(0, grant.refresh_token.indexOf('.'))}.${'A'.repeat(43)}`;
    expect((await refresh(server, forged)).body['error']).toBe('invalid_grant');
    await receiver.waitFor(() => refreshEvents().length === 1);
    expect(refreshEvents()).toEqual([
      expect.objectContaining({ outcome: 'rejected', reason: 'invalid_secret' }),
    ]);
  });
});
