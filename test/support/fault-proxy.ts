/**
 * A small HTTP proxy on 127.0.0.1 in front of a real server (Keycloak, in the tests): it forwards
 * every request and records what it forwarded and what the server answered — or, while told to,
 * answers 503 itself (the server is "down") or forwards a matching request and answers 503 anyway
 * (the call got through, its answer was lost), or holds a matching request before forwarding it
 * until told to let it go (a call in flight while the server is stopped). A real peer for the revocation client, not a mock:
 * the server behind it does the work.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Passed {
  method: string;
  path: string;
  /** what the proxy answered */
  status: number;
  /** what the server answered (0: not forwarded) */
  upstream: number;
  /** when the request came */
  cameMs: number;
  /** when it was answered */
  atMs: number;
}

export interface FaultProxy {
  url: string;
  passed: Passed[];
  /** answer 503 to every request matching `match` until `untilMs` (not forwarded) */
  downUntil(untilMs: number, match?: (method: string, path: string) => boolean): void;
  /** forward the next `n` requests matching `match`, and answer 503 to the caller */
  loseAnswers(n: number, match: (method: string, path: string) => boolean): void;
  /**
   * hold the next request matching `match` (its caller waits): `arrived` resolves when it came,
   * `release()` forwards it then (to whatever the server is by that time)
   */
  holdNext(match: (method: string, path: string) => boolean): { arrived: Promise<void>; release(): void };
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const passed: Passed[] = [];
  let down: { untilMs: number; match: (m: string, p: string) => boolean } | undefined;
  let lose: { n: number; match: (m: string, p: string) => boolean } | undefined;
  let hold:
    | { match: (m: string, p: string) => boolean; arrived: () => void; released: Promise<void> }
    | undefined;
  const server: Server = createServer(async (req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const cameMs = Date.now();
    const record = (status: number, up: number) =>
      passed.push({ method, path, status, upstream: up, cameMs, atMs: Date.now() });
    if (down !== undefined && Date.now() < down.untilMs && down.match(method, path)) {
      req.resume();
      record(503, 0);
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '0' }).end('down for a while');
      return;
    }
    if (hold?.match(method, path)) {
      const { arrived, released } = hold;
      hold = undefined;
      arrived();
      await released;
    }
    const losing = lose !== undefined && lose.n > 0 && lose.match(method, path);
    if (losing) lose!.n--;
    const out = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method,
        path,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        if (losing) {
          answer.resume();
          record(503, answer.statusCode ?? 0);
          res.writeHead(503, { 'content-type': 'text/plain' }).end('answer lost');
          return;
        }
        record(answer.statusCode ?? 0, answer.statusCode ?? 0);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', (err) => {
      record(502, 0);
      res.writeHead(502).end(err.message);
    });
    req.pipe(out);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    passed,
    downUntil(untilMs, match = () => true) {
      down = { untilMs, match };
    },
    loseAnswers(n, match) {
      lose = { n, match };
    },
    holdNext(match) {
      let arrived!: () => void;
      let release!: () => void;
      const came = new Promise<void>((r) => {
        arrived = r;
      });
      const released = new Promise<void>((r) => {
        release = r;
      });
      hold = { match, arrived, released };
      return { arrived: came, release };
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
