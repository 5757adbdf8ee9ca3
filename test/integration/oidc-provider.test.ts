/**
 * node-oidc-provider end to end, every part real: an OP (oidc-provider 9.x, in this process, on
 * loopback) with tokenwatch's SDK plugin reporting its events to tokenwatch (single-process mode,
 * ClickHouse), and tokenwatch revoking through the contract endpoint served on the provider's models
 * (TOKENWATCH_AUTH_REVOKE_URL). The user logs in by the code flow and rotates; a thief replays the old
 * refresh token from another network; the provider refuses it (rotateRefreshToken: reuse), the plugin
 * reports reuse_detected, tokenwatch's refresh_replay finding revokes the grant through the endpoint,
 * and the user's next refresh is refused. Prints replay → revocation acknowledged (ms).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  codeFlowLogin,
  type OidcHost,
  REVOKE_PATH,
  refreshCall,
  startOidcHost,
} from '../../examples/oidc-provider/host.ts';
import { hashTokenId } from '../../sdk/src/oidc-provider.ts';
import { freePort } from '../../tools/local-stack/process.ts';
import {
  API_KEY,
  clickhouse,
  queryRows,
  type RunningService,
  serviceSetup,
  startService,
  TENANT,
  waitUntil,
} from '../support/harness.ts';

const VICTIM = { ip: '85.214.132.117', ua: 'Mozilla/5.0 (victim laptop)' };
// another network in the same city: no travel to see, so only the replay itself can revoke
const THIEF = { ip: '85.214.140.12', ua: 'curl/8.5.0' };
const REVOKE_TOKEN = 'oidc-revoke-token-0123456789abcdef';
const REPLAYS = 5;

interface EventRow {
  type: string;
  outcome: string;
  reason: string;
  subject: string;
  client_id: string;
  family_id: string;
  token_id: string;
  new_token_id: string;
  ip: string;
  user_agent: string;
  source: string;
}

const ch = clickhouse();
const figures: number[] = [];

describe('oidc-provider: a replayed refresh token refused there, found by tokenwatch, the grant revoked there', () => {
  let database: string;
  let svc: RunningService;
  let host: OidcHost;

  beforeAll(async () => {
    const twPort = await freePort();
    const opPort = await freePort();
    const setup = serviceSetup({
      kafka: false,
      extra: {
        TOKENWATCH_PORT: String(twPort),
        TOKENWATCH_AUTH_REVOKE_URL: `http://127.0.0.1:${opPort}${REVOKE_PATH}`,
        TOKENWATCH_AUTH_TOKEN: REVOKE_TOKEN,
        TOKENWATCH_GUARD_TENANT_PER_MINUTE: '100',
      },
    });
    database = setup.database;
    host = await startOidcHost({
      port: opPort,
      tokenwatchUrl: `http://127.0.0.1:${twPort}`,
      apiKey: API_KEY,
      tenant: TENANT,
      revokeToken: REVOKE_TOKEN,
    });
    svc = await startService(setup.env);
  }, 120_000);

  afterAll(async () => {
    await host?.close();
    await svc?.stop();
    await ch.close();
    const sorted = [...figures].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    console.error(
      `[oidc-provider figures] replay → revocation acknowledged by the OP, ms: ${JSON.stringify({
        n: sorted.length,
        p50: at(0.5),
        max: sorted.at(-1),
        all: figures,
      })}`,
    );
  }, 60_000);

  it('login → rotate → replay refused → reuse reported → refresh_replay → grant revoked → the user refused', async () => {
    for (let i = 0; i < REPLAYS; i++) {
      const user = `user${i}`;
      const login = await codeFlowLogin(host.url, user, VICTIM.ip, VICTIM.ua);
      expect(login.status).toBe(200);
      const t1 = login.body['refresh_token']!;
      expect(t1).toBeTruthy();
      const rotated = await refreshCall(host.url, t1, VICTIM.ip, VICTIM.ua);
      expect(rotated.status).toBe(200);
      const t2 = rotated.body['refresh_token']!;
      const grantId = (await host.provider.RefreshToken.find(t2))!.grantId!;

      const answeredBefore = host.revocations.length;
      const replay = await refreshCall(host.url, t1, THIEF.ip, THIEF.ua);
      const replayedAt = Date.now();
      expect(replay).toEqual({
        status: 400,
        body: { error: 'invalid_grant', error_description: 'grant request is invalid' },
      });

      // tokenwatch's finding reaches the endpoint, which acknowledges the grant's revocation
      const ack = await waitUntil(
        `the revocation of grant ${grantId} to be acknowledged`,
        async () =>
          host.revocations
            .slice(answeredBefore)
            .find((r) => r.body['target'] === 'family' && r.body['id'] === grantId && r.status === 200),
        30_000,
      );
      figures.push(ack.atMs - replayedAt);
      // the provider destroyed the grant itself on reuse; tokenwatch's call finds it gone, known here
      expect(ack.body['status']).toBe('already_revoked');
      expect(await host.provider.Grant.find(grantId)).toBeUndefined();

      const rows = await waitUntil(
        'the revocation to be recorded done',
        async () => {
          const r = await queryRows<{ status: string; detector: string; http_status: number }>(
            ch,
            `SELECT toString(status) AS status, detector, http_status FROM ${database}.revocations
             WHERE target_id = '${grantId}' ORDER BY time_ms, attempt`,
          );
          return r.some((x) => x.status === 'done') && r;
        },
        30_000,
      );
      // the provider revoked the grant itself (grant.revoked before the refused refresh); its
      // reuse report still asks tokenwatch to revoke, so the thief's JWT access tokens are denied too
      expect(rows.find((r) => r.status === 'done')).toMatchObject({
        detector: 'refresh_replay',
        http_status: 200,
      });

      // the user's next refresh is refused: the grant is gone
      const next = await refreshCall(host.url, t2, VICTIM.ip, VICTIM.ua);
      expect(next.status).toBe(400);
      expect(next.body['error']).toBe('invalid_grant');

      if (i > 0) continue;
      // the events stored carry the mapping's fields: family = grant id, token ids hashed
      await host.reporter.flush(5000);
      const events = await waitUntil(
        'the OP events to be stored',
        async () => {
          const r = await queryRows<EventRow>(
            ch,
            `SELECT toString(type) AS type, outcome, reason, subject, client_id, family_id, token_id, new_token_id,
               ip, user_agent, source
             FROM ${database}.events WHERE family_id = '${grantId}'
             ORDER BY time_ms, type = 'revocation' DESC, event_id`, // the two at the reuse share a millisecond
          );
          return r.length >= 4 && r;
        },
        30_000,
      );
      const pick = ({ type, outcome, reason, token_id, new_token_id, ip, user_agent }: EventRow) => ({
        type,
        outcome,
        reason,
        token_id,
        new_token_id,
        ip,
        user_agent,
      });
      // the provider revokes the grant before it throws: grant.revoked comes before grant.error (same ms)
      expect(events.map(pick)).toEqual([
        {
          type: 'issuance',
          outcome: 'ok',
          reason: 'authorization_code',
          token_id: hashTokenId(t1),
          new_token_id: '',
          ...ua(VICTIM),
        },
        {
          type: 'refresh',
          outcome: 'rotated',
          reason: 'ok',
          token_id: hashTokenId(t1),
          new_token_id: hashTokenId(t2),
          ...ua(VICTIM),
        },
        {
          type: 'revocation',
          outcome: 'ok',
          reason: 'oidc-provider:token',
          token_id: '',
          new_token_id: '',
          ...ua(THIEF),
        },
        {
          type: 'refresh',
          outcome: 'rejected',
          reason: 'reuse_detected',
          token_id: hashTokenId(t1),
          new_token_id: '',
          ...ua(THIEF),
        },
      ]);
      for (const e of events) {
        expect(e).toMatchObject({ subject: user, family_id: grantId, source: `oidc-provider:${host.url}` });
        expect(JSON.stringify(e)).not.toContain(t1);
      }
      expect(events.slice(0, 3).every((e) => e.client_id === 'app')).toBe(true);
    }
    expect(host.attachment.stats().errors).toBe(0);
  }, 300_000);
});

const ua = (c: { ip: string; ua: string }) => ({ ip: c.ip, user_agent: c.ua });
