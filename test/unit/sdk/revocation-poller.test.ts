/**
 * The HTTP poller against a real server on 127.0.0.1 playing GET /v1/revocations: failures and
 * answers that are not a page are retried and counted, a bad notice beside good ones is skipped,
 * paging follows `more`, and the next poll starts an overlap behind the cursor.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Denylist, pollRevocations } from '../../../sdk/src/index.ts';

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
      [200, JSON.stringify({ notices: [notice('j1'), { version: 9 }], next_after: 5_000_000, more: true })],
      [200, JSON.stringify({ notices: [notice('j2')], next_after: 6_000_000, more: false })],
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
      expect(asked.map((a) => a.after)).toStrictEqual(['0', '0', '0', '0', '5000000', '5000000']);
      expect(asked.every((a) => a.auth === 'Bearer k')).toBe(true);
    } finally {
      await poller.close();
      denylist.close();
      server.close();
    }
  });
});
