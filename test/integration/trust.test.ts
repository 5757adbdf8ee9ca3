/**
 * Drills of the trust model (issue "Trust model"), every part real: the reference auth server (a
 * child process, reporting with its auth-server key), tokenwatch (single-process mode, a child
 * process), ClickHouse and a webhook receiver. An attacker holding a verifier's key (every verifier
 * has one) or no key at all tries to get a victim logged out: framing with fake reuse and fake
 * presences, a token id with a wrong secret, an expired token replayed from far away. None revokes
 * the victim, on-call is told who reported what, and a real attack in the same test is still revoked.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clickhouse,
  getRevocations,
  postEvents,
  queryRows,
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
  type World,
} from '../support/world.ts';

const AUTH_KEY = 'auth-server-key-0123456789';
const VERIFIER_KEY = 'verifier-key-0123456789ab';
const VERIFIER2_KEY = 'verifier-two-key-0123456789';
const keyId = (key: string) => `${TENANT}:${createHash('sha256').update(key).digest('base64').slice(0, 12)}`;

const ch = clickhouse();
afterAll(() => ch.close());

interface Issued {
  family_id: string;
  access_jti: string;
  session_id: string;
}

/** The victim's family, access token and session, as the auth server reported them at login. */
async function issuedTo(w: World, subject: string): Promise<Issued> {
  return waitUntil(`the issuance of ${subject}`, async () => {
    const [row] = await queryRows<Issued>(
      ch,
      `SELECT family_id, access_jti, session_id FROM ${w.database}.events WHERE subject = '${subject}' AND type = 'issuance' LIMIT 1`,
    );
    return row;
  });
}

async function detectionsOf(w: World, subject: string, n: number) {
  return waitUntil(
    `${n} detections of ${subject}, decided`,
    async () => {
      const rows = await queryRows<{
        detector: string;
        kind: string;
        target_kind: string;
        response: string;
        evidence_reporters: string[];
        evidence_roles: string[];
      }>(
        ch,
        `SELECT detector, kind, target_kind, response, evidence_reporters, evidence_roles
         FROM ${w.database}.detections FINAL WHERE subject = '${subject}' AND response != '' ORDER BY detector, kind`,
      );
      return rows.length >= n && rows;
    },
    30_000,
  );
}

const verification = (subject: string, at: number, over: Record<string, unknown>) => ({
  type: 'verification',
  event_id: unique('v'),
  time: at,
  tenant: TENANT,
  subject,
  outcome: 'accepted',
  reason: 'ok',
  ...over,
});

describe('trust model drills', () => {
  let w: World | undefined;
  beforeAll(async () => {
    w = await startWorld({
      kafka: false,
      extra: {
        TOKENWATCH_API_KEYS: `${TENANT}:${AUTH_KEY}:auth-server,${TENANT}:${VERIFIER_KEY}:verifier,${TENANT}:${VERIFIER2_KEY}:verifier`,
      },
      authEnv: () => ({ AUTH_TOKENWATCH_API_KEY: AUTH_KEY }),
    });
  });
  afterAll(() => stopWorld(w));

  it('framing with a verifier key: fake reuse is refused, fake presences only alert (naming the reporter); a real attack is still revoked', async () => {
    const world = w!;
    const victim = unique('victim');
    await login(world, victim, BERLIN, 'laptop');
    const v = await issuedTo(world, victim);
    const now = Date.now();

    // The auth server's word, from a verifier key: refused per event; the good event beside it stored.
    const framed = await postEvents(
      world.tw.url,
      [
        {
          type: 'refresh',
          event_id: unique('fake-reuse'),
          time: now,
          tenant: TENANT,
          subject: victim,
          outcome: 'rejected',
          reason: 'reuse_detected',
          family_id: v.family_id,
          token_id: 'rt-guessed',
          ip: SAO_PAULO,
        },
        // two accepted verifications of the victim's token from two continents, two devices
        verification(victim, now + 1, {
          jti: v.access_jti,
          family_id: v.family_id,
          session_id: v.session_id,
          ip: BERLIN,
          device_id: 'victim-laptop',
        }),
        verification(victim, now + 2000, {
          jti: v.access_jti,
          family_id: v.family_id,
          session_id: v.session_id,
          ip: SAO_PAULO,
          device_id: 'attacker-phone',
        }),
      ],
      { key: VERIFIER_KEY },
    );
    expect(framed.status).toBe(200);
    expect(framed.body.accepted).toBe(2);
    expect(framed.body.errors).toEqual([
      expect.objectContaining({ index: 0, code: 'outside_role', field: '/type' }),
    ]);

    // Who reported each stored event is recorded.
    const reporters = await queryRows<{
      type: string;
      reporter_id: string;
      reporter_role: string;
      reporter_door: string;
    }>(
      ch,
      `SELECT DISTINCT type, reporter_id, reporter_role, reporter_door FROM ${world.database}.events WHERE subject = '${victim}' ORDER BY type`,
    );
    // (ordered by the type enum: verification first)
    expect(reporters).toEqual([
      {
        type: 'verification',
        reporter_id: keyId(VERIFIER_KEY),
        reporter_role: 'verifier',
        reporter_door: 'http',
      },
      { type: 'issuance', reporter_id: keyId(AUTH_KEY), reporter_role: 'auth-server', reporter_door: 'http' },
    ]);

    // A real attack in the same test: a replayed refresh token, reported by the auth server.
    const attacked = unique('attacked');
    await stealFrom(world, attacked);
    const attackedFamily = (await issuedTo(world, attacked)).family_id;
    await waitUntil(
      'the real attack revoked',
      async () =>
        (await world.auth.revocationLog()).find(
          (r) => r.target === 'family' && r.id === attackedFamily && r.status_code === 200,
        ),
      15_000,
    );

    // The framing found what it shows, but only as alerts: one verifier's word alone.
    const found = await detectionsOf(world, victim, 3);
    expect(found.map((d) => [d.detector, d.target_kind])).toEqual(
      expect.arrayContaining([
        ['impossible_travel', 'jti'],
        ['impossible_travel', 'family'],
        ['device_reuse', 'jti'],
      ]),
    );
    for (const d of found) {
      expect(d.response, `${d.detector} ${d.kind}`).toBe('alert_only');
      expect(d.evidence_reporters).toContain(keyId(VERIFIER_KEY));
    }
    const log = await world.auth.revocationLog();
    expect(log.filter((r) => [v.family_id, v.access_jti, v.session_id, victim].includes(r.id))).toEqual([]);
    // On-call is told, and told who reported it.
    const alert = await waitUntil(
      'the alert about the victim',
      async () => world.receiver.messages.find((m) => m.body.includes(victim)),
      15_000,
    );
    expect(alert.body).toContain(keyId(VERIFIER_KEY));
    expect(alert.body).toContain("one verifier's word alone");
  });

  it("one verifier's invented presence beside the victim's own login revokes no family (an alert)", async () => {
    const world = w!;
    const victim = unique('victim');
    await login(world, victim, BERLIN, 'laptop');
    const v = await issuedTo(world, victim);
    // The auth server's fact is real (the login in Berlin); the presence from São Paulo is not.
    const framed = await postEvents(
      world.tw.url,
      [
        verification(victim, Date.now() + 1000, {
          family_id: v.family_id,
          session_id: v.session_id,
          ip: SAO_PAULO,
          device_id: 'attacker-phone',
        }),
      ],
      { key: VERIFIER_KEY },
    );
    expect(framed.body.accepted).toBe(1);
    const found = await detectionsOf(world, victim, 1);
    const travel = found.find((d) => d.detector === 'impossible_travel' && d.target_kind === 'family');
    expect(travel, JSON.stringify(found)).toBeDefined();
    expect(travel!.evidence_roles).toEqual(expect.arrayContaining(['auth-server', 'verifier']));
    for (const d of found) expect(d.response, `${d.detector} ${d.kind}`).toBe('alert_only');
    const log = await world.auth.revocationLog();
    expect(log.filter((r) => [v.family_id, v.session_id, victim].includes(r.id))).toEqual([]);
  });

  it('a wrong secret presented through the reference auth server revokes nothing (an alert); a real replay still does', async () => {
    const world = w!;
    const victim = unique('victim');
    const first = await login(world, victim, BERLIN, 'laptop');
    expect((await refresh(world, first.refresh_token, BERLIN, 'laptop')).status).toBe(200);
    const v = await issuedTo(world, victim);
    await new Promise((r) => setTimeout(r, 300));
    // The rotated token's id is public (logged, the head of every refresh token); its secret is not.
    const tokenId = first.refresh_token.slice(0, first.refresh_token.indexOf('.'));
    const wrong = await refresh(world, `${tokenId}.${'x'.repeat(43)}`, SAO_PAULO, 'attacker-phone');
    expect(wrong.status).toBe(400);
    expect(wrong.body['error']).toBe('invalid_grant');

    const found = await detectionsOf(world, victim, 1);
    expect(found).toEqual([
      expect.objectContaining({
        detector: 'refresh_replay',
        kind: 'refresh token presented with a wrong secret',
        response: 'alert_only',
        evidence_roles: ['auth-server'],
      }),
    ]);
    const reason = await queryRows<{ reason: string }>(
      ch,
      `SELECT reason FROM ${world.database}.events WHERE subject = '${victim}' AND type = 'refresh' AND outcome = 'rejected'`,
    );
    expect(reason).toEqual([{ reason: 'invalid_secret' }]);

    await new Promise((r) => setTimeout(r, 500));
    expect((await world.auth.revocationLog()).filter((r) => r.id === v.family_id)).toEqual([]);

    // The real replay of the same family (the secret this time) is revoked.
    const replay = await refresh(world, first.refresh_token, SAO_PAULO, 'attacker-phone');
    expect(replay.status).toBe(200);
    await waitUntil(
      'the real replay revoked',
      async () =>
        (await world.auth.revocationLog()).find((r) => r.target === 'family' && r.id === v.family_id),
      15_000,
    );
    const before = (await world.auth.revocationLog()).filter((r) => r.id === v.family_id);
    expect(before).toHaveLength(1);
  });

  it('an expired token replayed from far away never revokes the family (an alert, at most its own jti)', async () => {
    const world = w!;
    const victim = unique('victim');
    await login(world, victim, BERLIN, 'laptop');
    const v = await issuedTo(world, victim);
    const now = Date.now();
    const ids = { jti: v.access_jti, family_id: v.family_id, session_id: v.session_id };
    // the owner's token accepted in Berlin by one API, and the old token replayed in São Paulo at another
    const ok = await postEvents(
      world.tw.url,
      [verification(victim, now, { ...ids, ip: BERLIN, device_id: 'laptop' })],
      {
        key: VERIFIER_KEY,
      },
    );
    const replayed = await postEvents(
      world.tw.url,
      [
        verification(victim, now + 1000, {
          ...ids,
          outcome: 'rejected',
          reason: 'expired',
          ip: SAO_PAULO,
          device_id: 'attacker-phone',
        }),
      ],
      { key: VERIFIER2_KEY },
    );
    expect([ok.body.accepted, replayed.body.accepted]).toEqual([1, 1]);

    const found = await detectionsOf(world, victim, 2);
    const family = found.filter((d) => d.target_kind !== 'jti');
    expect(family.length).toBeGreaterThan(0);
    for (const d of family) expect(d.response, `${d.detector} ${d.kind}`).toBe('alert_only');
    await new Promise((r) => setTimeout(r, 1000));
    const log = await world.auth.revocationLog();
    expect(
      log.filter((r) => r.target !== 'jti' && [v.family_id, v.session_id, victim].includes(r.id)),
    ).toEqual([]);
  });

  it('linked-jti amplification: a verifier cannot link other users’ tokens to a family that gets revoked', async () => {
    const world = w!;
    // Other users' access tokens, which the attacker wants denied.
    const victims = await Promise.all([1, 2, 3].map(() => login(world, unique('victim'), BERLIN, 'laptop')));
    const jtiOf = (token: string) =>
      (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
    const victimJtis = victims.map((v) => jtiOf(v.access_token));

    // The attacker's own account: its verifier key links the victims' tokens to its family, then
    // it gets its own family revoked (a replay of its own refresh token from far away).
    const attacker = unique('attacker');
    const first = await login(world, attacker, BERLIN, 'laptop');
    const own = await issuedTo(world, attacker);
    const linking = await postEvents(
      world.tw.url,
      victimJtis.map((jti, i) =>
        verification(attacker, Date.now() + i, {
          jti,
          access_jti: jti,
          family_id: own.family_id,
          ip: BERLIN,
          device_id: 'laptop',
        }),
      ),
      { key: VERIFIER_KEY },
    );
    expect(linking.body.accepted).toBe(victimJtis.length);
    expect((await refresh(world, first.refresh_token, BERLIN, 'laptop')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect((await refresh(world, first.refresh_token, SAO_PAULO, 'attacker-phone')).status).toBe(200);
    await waitUntil(
      "the attacker's family revoked",
      async () =>
        (await world.auth.revocationLog()).find(
          (r) => r.target === 'family' && r.id === own.family_id && r.status_code === 200,
        ),
      15_000,
    );
    await new Promise((r) => setTimeout(r, 1500));

    // The notices name the attacker's own tokens only (what the auth server issued with the family).
    const page = await getRevocations(world.tw.url, AUTH_KEY, { limit: 1000 });
    const viaFamily = (page.body.notices ?? []).filter((n) => n.via?.id === own.family_id).map((n) => n.id);
    expect(viaFamily.length).toBeGreaterThan(0);
    for (const jti of victimJtis) expect(viaFamily).not.toContain(jti);
    // And the victims' tokens still work at the auth server.
    for (const v of victims) {
      const me = await fetch(`${world.auth.url}/v1/me`, {
        headers: { authorization: `Bearer ${v.access_token}` },
      });
      expect(me.status).toBe(200);
    }
  });
});

describe('trust model drills, Kafka mode (the HTTP door relays to the events topic)', () => {
  let w: World | undefined;
  beforeAll(async () => {
    w = await startWorld({
      kafka: true,
      extra: {
        TOKENWATCH_API_KEYS: `${TENANT}:${AUTH_KEY}:auth-server,${TENANT}:${VERIFIER_KEY}:verifier`,
        // the relay's headers signed: believed by ingest and the detectors, kept on forwarded copies
        TOKENWATCH_RELAY_SECRET: 'relay-secret-0123456789abcdef-0123456789',
      },
      authEnv: () => ({ AUTH_TOKENWATCH_API_KEY: AUTH_KEY }),
    });
  });
  afterAll(() => stopWorld(w));

  it('the reporter travels with the event through Kafka: one verifier’s framing only alerts', async () => {
    const world = w!;
    const victim = unique('victim');
    await login(world, victim, BERLIN, 'laptop');
    const v = await issuedTo(world, victim);
    const now = Date.now();
    const ids = { jti: v.access_jti, family_id: v.family_id, session_id: v.session_id };
    const framed = await postEvents(
      world.tw.url,
      [
        verification(victim, now, { ...ids, ip: BERLIN, device_id: 'victim-laptop' }),
        verification(victim, now + 2000, { ...ids, ip: SAO_PAULO, device_id: 'attacker-phone' }),
      ],
      { key: VERIFIER_KEY },
    );
    expect(framed.body.accepted).toBe(2);
    const found = await detectionsOf(world, victim, 3);
    for (const d of found) {
      expect(d.response, `${d.detector} ${d.kind}`).toBe('alert_only');
      expect(d.evidence_roles).toContain('verifier');
    }
    const stored = await waitUntil('the verifications stored', async () => {
      const rows = await queryRows<{ reporter_role: string; reporter_door: string }>(
        ch,
        `SELECT DISTINCT reporter_role, reporter_door FROM ${world.database}.events WHERE subject = '${victim}' AND type = 'verification'`,
      );
      return rows.length > 0 && rows;
    });
    expect(stored).toEqual([{ reporter_role: 'verifier', reporter_door: 'http' }]);
    const log = await world.auth.revocationLog();
    expect(log.filter((r) => [v.family_id, v.access_jti, v.session_id].includes(r.id))).toEqual([]);
  });
});
