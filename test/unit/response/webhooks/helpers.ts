/** Fixtures for the webhook tests: alerts, a real HTTP receiver on 127.0.0.1, and polling. */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Alert } from '../../../../response/alert.ts';

/** A detection alert; override what the test is about. */
export function alert(overrides: Partial<Alert> = {}): Alert {
  return {
    kind: 'detection',
    group_key: 'acme/user-7/refresh_replay',
    tenant: 'acme',
    subject: 'user-7',
    detector: 'refresh_replay',
    severity: 'high',
    title: 'Refresh token replay — user-7, family f-12: family revoked',
    text: 'Presented from Berlin (DE) and São Paulo (BR) 40 s apart\nfamily f-12 revoked',
    fields: { detection_id: 'd-1', family_id: 'f-12', response: 'revoked' },
    time_ms: 1_760_000_000_000,
    url: 'https://tokenwatch.example/v1/detections?tenant=acme&subject=user-7',
    ...overrides,
  };
}

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** the raw body, as signed */
  body: string;
  /** when it arrived (Date.now()) */
  atMs: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface Receiver {
  /** base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  received: ReceivedRequest[];
  /** how to answer request number n (0-based); 200 "ok" by default */
  answer: (request: ReceivedRequest, n: number) => Answer;
  close(): Promise<void>;
}

/** A webhook receiver: a node:http server on 127.0.0.1 that records every request. */
export async function startReceiver(): Promise<Receiver> {
  const received: ReceivedRequest[] = [];
  const receiver: Receiver = {
    url: '',
    received,
    answer: () => ({ status: 200, body: 'ok' }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        atMs: Date.now(),
      };
      received.push(request);
      const answer = receiver.answer(request, received.length - 1);
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}

/** Polls `condition` every 10 ms until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
