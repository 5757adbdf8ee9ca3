/**
 * The HTTP poller against a real server on 127.0.0.1 playing GET /v1/revocations: failures and
 * answers that are not a page are retried and counted, a bad notice beside good ones is skipped,
 * paging follows the notices, and the next poll starts an overlap behind the cursor. Hostile
 * answers (property-based): a fake `next_after`, seqs from the future or from before the cursor,
 * `more` without notices, oversized bodies, more notices than asked for — none makes the poller
 * skip a notice the server holds (fail-closed).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Denylist, pollRevocations } from '../../../sdk/src/index.ts';

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
const until = async (cond: () => boolean, what: string) => {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
};

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const notice = (id: string) => ({
  version: 1,
  revocation_id: `rev-${id}`,
  tenant: 'acme',
  subject: 'alice',
  target: 'jti',
  id,
  expires_at_ms: Date.now() + 60_000,
  revoked_at_ms: Date.now(),
});

describe('pollRevocations', () => {
  it('retries failures and garbage, skips a bad notice, pages on, and re-reads behind its cursor', async () => {
    const answers: [number, string][] = [
      [500, '{"error":"internal_error"}'],
      [200, '{"not":"a page"}'],
      [200, 'not json'],
      [
        200,
        JSON.stringify({
          notices: [
            { seq: 5_000_000, ...notice('j1') },
            { seq: 5_000_001, version: 9 },
          ],
          next_after: 5_000_001,
          more: true,
        }),
      ],
      [
        200,
        JSON.stringify({
          notices: [{ seq: 6_000_000, ...notice('j2') }],
          next_after: 6_000_000,
          more: false,
        }),
      ],
    ];
    const asked: { after: string | null; auth: string | undefined }[] = [];
    const server = createServer((req, res) => {
      asked.push({
        after: new URL(req.url!, 'http://x').searchParams.get('after'),
        auth: req.headers.authorization,
      });
      const [status, body] = answers.shift() ?? [
        200,
        JSON.stringify({ notices: [], next_after: 0, more: false }),
      ];
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const denylist = new Denylist({ logger: quiet });
    const poller = pollRevocations({
      url,
      apiKey: 'k',
      ids: 'raw',
      denylist,
      intervalMs: 10,
      overlapMs: 1000,
      logger: quiet,
    });
    try {
      await poller.ready;
      expect(poller.stats().failures).toBe(3);
      expect(poller.stats().lastError).toMatch(/not a revocations page|JSON/);
      expect(denylist.match({ tenant: 'acme', jti: 'j1' })?.id).toBe('j1');
      expect(denylist.match({ tenant: 'acme', jti: 'j2' })?.id).toBe('j2');
      expect(denylist.stats()).toMatchObject({ entries: 2, invalid: 1 });
      // wait for the next cycle: it starts the overlap (1 s = 1,000,000 seq) behind the cursor
      while (asked.length < 6) await new Promise((r) => setTimeout(r, 5));
      expect(asked.map((a) => a.after)).toStrictEqual(['0', '0', '0', '0', '5000001', '5000000']);
      expect(asked.every((a) => a.auth === 'Bearer k')).toBe(true);
    } finally {
      await poller.close();
      denylist.close();
      server.close();
    }
  });

  it('asks for hashed ids by default, and refuses a body over maxResponseBytes or more notices than asked for', async () => {
    const queries: URLSearchParams[] = [];
    let answer = 0;
    const big = JSON.stringify({
      notices: [{ seq: 1, ...notice('x'.repeat(400)) }],
      more: false,
      pad: 'p'.repeat(5000),
    });
    const tooMany = JSON.stringify({
      notices: [1, 2, 3].map((i) => ({ seq: i, ...notice(`m${i}`) })),
      more: false,
    });
    const server = await serve((req, res) => {
      queries.push(new URL(req.url!, 'http://x').searchParams);
      answer++;
      if (answer === 1)
        res.writeHead(200).end(big); // announced length over the cap
      else if (answer === 2) {
        res.writeHead(200, { 'transfer-encoding': 'chunked' }); // unannounced: cut while reading
        res.write(big.slice(0, 2000));
        res.end(big.slice(2000));
      } else if (answer === 3) res.writeHead(200).end(tooMany);
      else res.writeHead(200).end(JSON.stringify({ notices: [{ seq: 9, ...notice('ok') }], more: false }));
    });
    const denylist = new Denylist({ logger: quiet });
    const poller = pollRevocations({
      url: server.url,
      apiKey: 'k',
      denylist,
      intervalMs: 1,
      pageLimit: 2,
      maxResponseBytes: 4096,
      logger: quiet,
    });
    try {
      await poller.ready;
      expect(poller.stats()).toMatchObject({ failures: 3, cursor: 9 });
      expect(denylist.match({ tenant: 'acme', jti: 'm1' })).toBeUndefined();
      expect(denylist.match({ tenant: 'acme', jti: 'ok' })).toBeDefined();
      expect(queries[0]!.get('ids')).toBe('sha256');
      expect(queries[0]!.get('limit')).toBe('2');
    } finally {
      await poller.close();
      denylist.close();
      await server.close();
    }
  });

  it('property: hostile answers never make it skip a notice the server holds', async () => {
    type Hostile =
      | { kind: 'fake_next_after'; value: number }
      | { kind: 'seq'; seq: unknown }
      | { kind: 'more_without_notices' }
      | { kind: 'garbage'; body: string };
    const hostile: fc.Arbitrary<Hostile> = fc.oneof(
      fc.record({
        kind: fc.constant('fake_next_after' as const),
        value: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      }),
      fc.record({
        kind: fc.constant('seq' as const),
        seq: fc.oneof(
          fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), // anywhere: the past, the future, years ahead
          fc.constantFrom((Date.now() + 3_600_000) * 1000, Date.now() * 1000, -1, 1.5, '9'.repeat(20), null),
        ),
      }),
      fc.constant({ kind: 'more_without_notices' as const }),
      fc.record({
        kind: fc.constant('garbage' as const),
        body: fc.constantFrom('', 'null', '[]', '{"notices":{}}', '{'),
      }),
    );
    let script: Hostile[] = [];
    let held: { seq: number; id: string }[] = [];
    let honest = 0;
    const server = await serve((req, res) => {
      const q = new URL(req.url!, 'http://x').searchParams;
      const after = Number(q.get('after'));
      const limit = Number(q.get('limit'));
      const page = held.filter((n) => n.seq > after).slice(0, limit);
      const more = held.filter((n) => n.seq > after).length > limit;
      const notices = page.map((n) => ({ seq: n.seq, ...notice(n.id) }));
      const h = script.shift();
      let body: unknown = { notices, next_after: notices.at(-1)?.seq ?? after, more };
      if (h === undefined) honest++;
      else if (h.kind === 'fake_next_after') body = { notices, next_after: h.value, more: true };
      else if (h.kind === 'seq')
        body = {
          notices: [...notices, { seq: h.seq, ...notice(`evil-${String(h.seq)}`) }],
          next_after: Number.MAX_SAFE_INTEGER,
          more,
        };
      else if (h.kind === 'more_without_notices')
        body = { notices: [], next_after: Number.MAX_SAFE_INTEGER, more: true };
      else {
        res.writeHead(200).end(h.body);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(hostile, { minLength: 1, maxLength: 6 }),
          fc.integer({ min: 1, max: 30 }),
          fc.integer({ min: 1, max: 20 }),
          async (attacks, before, after) => {
            const now = Date.now();
            // notices stored long ago, and notices landing late (another instance): seqs behind the clock
            held = Array.from({ length: before }, (_, i) => ({
              seq: (now - 3_600_000 + i * 1000) * 1000 + i,
              id: `old-${i}`,
            }));
            script = [...attacks];
            honest = 0;
            const denylist = new Denylist({ logger: quiet });
            const poller = pollRevocations({
              url: server.url,
              apiKey: 'k',
              denylist,
              intervalMs: 1,
              pageLimit: 7,
              logger: quiet,
            });
            try {
              await until(() => script.length === 0, 'the hostile answers');
              held = [
                ...held,
                ...Array.from({ length: after }, (_, i) => ({
                  seq: (now - 30_000 + i) * 1000,
                  id: `late-${i}`,
                })),
              ].sort((a, b) => a.seq - b.seq);
              const seen = honest;
              await until(() => honest >= seen + 8, 'honest polls');
              for (const n of held) expect(denylist.match({ tenant: 'acme', jti: n.id }), n.id).toBeDefined();
              expect(poller.stats().cursor).toBeLessThanOrEqual(Date.now() * 1000 + 999);
            } finally {
              await poller.close();
              denylist.close();
            }
          },
        ),
        { numRuns: 25 },
      );
    } finally {
      await server.close();
    }
  });
});
