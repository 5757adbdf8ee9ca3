/**
 * Revocation notices over HTTP, for verifiers without Kafka: tokenwatch in single-process mode (no
 * Kafka at all) and the reference auth server, both real child processes. A replayed refresh token
 * revokes its family; GET /v1/revocations then serves the family's notice and its access tokens'
 * to the tenant's own event key, pages by its cursor, and shows another tenant nothing. A denylist
 * key reads the same notices with every id hashed (v2), nothing else, and the SDK's poller with it
 * refuses the revoked token by the hash.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashedNotice } from '../../contract/revocation-notice-v2.ts';
import { Denylist, pollRevocations } from '../../sdk/src/index.ts';
import {
  API_KEY,
  DENYLIST_KEY,
  getRevocations,
  metric,
  READ_KEY,
  type RevocationsPage,
  TENANT,
  unique,
  waitUntil,
} from '../support/harness.ts';
import { startWorld, stealFrom, stopWorld, type World } from '../support/world.ts';

const OTHER_KEY = 'other-key-0123456789abcdef';

type Notice = NonNullable<RevocationsPage['body']['notices']>[number];

const jtiOf = (jwt: string) =>
  (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;

describe('GET /v1/revocations (single-process mode)', () => {
  let w: World | undefined;
  let user: string;
  let attackerJti: string;
  /** every notice of the replay, once the revoker has looked for linked access tokens twice */
  let all: Notice[];

  beforeAll(async () => {
    w = await startWorld({ kafka: false });
    expect(w.env['TOKENWATCH_KAFKA_BROKERS']).toBeUndefined();
    user = unique('poller');
    const stolen = await stealFrom(w, user);
    expect(stolen.status, JSON.stringify(stolen.body)).toBe(200);
    attackerJti = jtiOf(stolen.body['access_token'] as string);
    const world = w;
    await waitUntil(
      'the family and its access tokens over HTTP',
      async () => {
        const page = await getRevocations(world.tw.url, API_KEY);
        const notices = page.body.notices ?? [];
        return notices.some((n) => n.target === 'family') && notices.some((n) => n.id === attackerJti);
      },
      15_000,
      100,
    );
    // The revoker looks for linked access tokens again 3 s later (2 × batch wait + 1 s): let it.
    await new Promise((r) => setTimeout(r, 4000));
    all = (await getRevocations(world.tw.url, API_KEY)).body.notices!;
  });
  afterAll(() => stopWorld(w));

  it('serves the family and its linked access tokens to the tenant’s event key, in the Kafka notice shape plus seq', async () => {
    const page = await getRevocations(w!.tw.url, API_KEY);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.body.notices).toEqual(all);
    expect(page.body.more).toBe(false);
    expect(page.body.next_after).toBe(all.at(-1)!.seq);

    const family = all.filter((n) => n.target === 'family');
    expect(family).toHaveLength(1);
    expect(Object.keys(family[0]!)).toEqual([
      'seq',
      'version',
      'revocation_id',
      'tenant',
      'subject',
      'target',
      'id',
      'expires_at_ms',
      'revoked_at_ms',
      'detection_id',
      'detector',
    ]);
    expect(family[0]).toMatchObject({
      version: 1,
      tenant: TENANT,
      subject: user,
      detector: 'refresh_replay',
      id: expect.stringMatching(/.+/),
      revocation_id: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(family[0]!.expires_at_ms).toBeGreaterThan(Date.now() + 86_400_000);
    expect(family[0]!.revoked_at_ms).toBeLessThanOrEqual(Date.now());

    // The attacker's access token and the user's, each until its own exp, through the family.
    const jtis = all.filter((n) => n.target === 'jti');
    expect(jtis.map((n) => n.id)).toContain(attackerJti);
    expect(jtis.length).toBeGreaterThanOrEqual(2);
    for (const n of jtis) {
      expect(n).toMatchObject({
        subject: user,
        revocation_id: family[0]!.revocation_id,
        via: { target: 'family', id: family[0]!.id },
      });
      expect(n.expires_at_ms).toBeGreaterThan(Date.now());
      expect(n.expires_at_ms).toBeLessThanOrEqual(Date.now() + 3_600_000);
    }

    // Cursor order, and the counters say where they went (no Kafka here).
    const seqs = all.map((n) => n.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(
      await metric(w!.tw.url, 'tokenwatch_revocation_hooks_published_total', { sink: 'revocation_notices' }),
    ).toBe(all.length);
    expect(
      await metric(w!.tw.url, 'tokenwatch_revocation_hooks_published_total', { sink: 'revocation_hooks' }),
    ).toBe(0);
  });

  it('pages by cursor: nothing new after next_after; limit=1 walks the same notices with `more`', async () => {
    const url = w!.tw.url;
    const last = all.at(-1)!.seq;
    const after = await getRevocations(url, API_KEY, { after: last });
    expect(after.status).toBe(200);
    expect(after.body).toEqual({ notices: [], next_after: last, more: false });

    const walked: Notice[] = [];
    let cursor = 0;
    for (let more = true; more; ) {
      const page = await getRevocations(url, API_KEY, { after: cursor, limit: 1 });
      expect(page.status).toBe(200);
      expect(page.body.notices).toHaveLength(1);
      walked.push(...page.body.notices!);
      cursor = page.body.next_after!;
      more = page.body.more!;
      expect(walked.length).toBeLessThanOrEqual(all.length);
    }
    expect(walked).toEqual(all);
    expect(cursor).toBe(last);

    // From the middle: only what follows.
    const middle = await getRevocations(url, API_KEY, { after: all[0]!.seq });
    expect(middle.body.notices).toEqual(all.slice(1));
  });

  it('another tenant’s event key sees none of them; a read key sees them by tenant', async () => {
    const url = w!.tw.url;
    const other = await getRevocations(url, OTHER_KEY);
    expect(other.status).toBe(200);
    expect(other.body).toEqual({ notices: [], next_after: 0, more: false });
    const crossing = await getRevocations(url, OTHER_KEY, { tenant: TENANT });
    expect(crossing.status).toBe(403);
    expect(crossing.body.message).toBe('this key reads tenant "other" only');

    const reader = await getRevocations(url, READ_KEY, { tenant: TENANT });
    expect(reader.body.notices).toEqual(all);
    expect((await getRevocations(url, READ_KEY, { tenant: 'other' })).body.notices).toEqual([]);
  });

  it('refuses a request without a key (401 with WWW-Authenticate) and a bad cursor (400)', async () => {
    const url = w!.tw.url;
    for (const key of [undefined, 'not-a-key-0123456789abcdef']) {
      const res = await getRevocations(url, key);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="tokenwatch"');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.body.error).toBe('unauthorized');
      expect(res.body.message).toContain('TOKENWATCH_API_KEYS');
      expect(res.body.message).toContain('Authorization: Bearer <key>');
    }
    for (const after of ['abc', '-1', '1.5', '99999999999999999']) {
      const res = await getRevocations(url, API_KEY, { after });
      expect(res.status, after).toBe(400);
      expect(res.body.error).toBe('invalid_after');
      expect(res.body.message).toContain(JSON.stringify(after));
    }
    for (const limit of [0, 10_001]) {
      const res = await getRevocations(url, API_KEY, { limit });
      expect(res.status, String(limit)).toBe(400);
      expect(res.body.message).toContain('limit');
    }
  });

  it('a denylist key reads the notices with hashed ids only (v2), and nothing but them', async () => {
    const url = w!.tw.url;
    const page = await getRevocations(url, DENYLIST_KEY);
    expect(page.status).toBe(200);
    expect(page.body.notices).toEqual(all.map(({ seq, ...n }) => ({ seq, ...hashedNotice(n) })));
    const text = JSON.stringify(page.body);
    for (const n of all) {
      expect(text).not.toContain(n.subject);
      expect(text).not.toContain(`"${n.id}"`);
    }
    expect((await getRevocations(url, DENYLIST_KEY, { ids: 'raw' })).status).toBe(403);
    expect((await getRevocations(url, DENYLIST_KEY, { tenant: 'other' })).status).toBe(403);
    // an event key may ask for the hashed form too
    expect((await getRevocations(url, API_KEY, { ids: 'sha256' })).body.notices).toEqual(page.body.notices);
    const events = await fetch(`${url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DENYLIST_KEY}`, 'content-type': 'application/json' },
      body: '[]',
    });
    expect(events.status).toBe(401);
    const detections = await fetch(`${url}/v1/detections`, {
      headers: { authorization: `Bearer ${DENYLIST_KEY}` },
    });
    expect(detections.status).toBe(401);
  });

  it("the SDK's poller with a denylist key refuses the attacker's token by its hash", async () => {
    const denylist = new Denylist();
    const poller = pollRevocations({ url: w!.tw.url, apiKey: DENYLIST_KEY, denylist, intervalMs: 200 });
    try {
      await poller.ready;
      expect(denylist.match({ tenant: TENANT, jti: attackerJti })).toMatchObject({
        target: 'jti',
        id: attackerJti,
      });
      const family = all.find((n) => n.target === 'family')!;
      expect(denylist.match({ tenant: TENANT, familyId: family.id })?.target).toBe('family');
      expect(poller.stats()).toMatchObject({ failures: 0, untrustedSeqs: 0 });
      expect(poller.stats().cursor).toBe(all.at(-1)!.seq);
    } finally {
      await poller.close();
      denylist.close();
    }
  });
});
