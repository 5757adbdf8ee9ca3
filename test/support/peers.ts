/**
 * Real peers for end-to-end tests: the reference auth server as a child process, and a webhook
 * receiver (a node:http server on 127.0.0.1) that keeps every message it gets.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawnScript, waitUntil } from './harness.ts';

export const AUTH_ADMIN_TOKEN = 'admin-token-0123456789abcdef';
export const AUTH_REVOKE_TOKEN = 'revoke-token-0123456789abcdef';

export interface RunningAuthServer {
  url: string;
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
  /** POST a form to /oauth/token as a client at `ip` (X-Forwarded-For) */
  token(
    form: Record<string, string>,
    ip: string,
    deviceId: string,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** the revocation requests it has received, in order */
  revocationLog(): Promise<
    {
      received_at_ms: number;
      idempotency_key: string;
      target: string;
      id: string;
      status_code: number;
      replayed: boolean;
    }[]
  >;
  fault(mode: 'ok' | 'unavailable' | 'slow', slowMs?: number): Promise<void>;
}

/** Starts `node examples/auth-server/main.ts` on a free port, reporting its events to `tokenwatchUrl`. */
export async function startAuthServer(env: Record<string, string>): Promise<RunningAuthServer> {
  const { child, output, exited } = spawnScript('examples/auth-server/main.ts', [], {
    AUTH_HOST: '127.0.0.1',
    AUTH_PORT: '0',
    AUTH_TRUST_PROXY: 'true',
    AUTH_ALLOW_ANY_USER: 'true',
    AUTH_ADMIN_TOKEN,
    AUTH_REVOCATION_TOKEN: AUTH_REVOKE_TOKEN,
    ...env,
  });
  const url = await waitUntil(
    'the auth server to listen',
    async () => {
      if (child.exitCode !== null) throw new Error(`auth server exited with ${child.exitCode}:\n${output()}`);
      const m = /"url":"(http:\/\/[^"]+)"/.exec(output());
      return m?.[1];
    },
    30_000,
    50,
  );
  const admin = { authorization: `Bearer ${AUTH_ADMIN_TOKEN}` };
  return {
    url,
    child,
    output,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
    async token(form, ip, deviceId) {
      const res = await fetch(`${url}/oauth/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-forwarded-for': ip,
          'x-device-id': deviceId,
          'user-agent': `test-client/${deviceId}`,
        },
        body: new URLSearchParams(form).toString(),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    async revocationLog() {
      const res = await fetch(`${url}/admin/revocations`, { headers: admin });
      if (!res.ok) throw new Error(`GET /admin/revocations: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as unknown;
      return (Array.isArray(body) ? body : (body as { revocations: unknown[] }).revocations) as never;
    },
    async fault(mode, slowMs) {
      const res = await fetch(`${url}/admin/faults`, {
        method: 'POST',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify({ revocations: mode, ...(slowMs !== undefined ? { slow_ms: slowMs } : {}) }),
      });
      if (!res.ok) throw new Error(`POST /admin/faults: ${res.status} ${await res.text()}`);
    },
  };
}

export interface ReceivedMessage {
  headers: IncomingHttpHeaders;
  body: string;
  at_ms: number;
}

export interface WebhookReceiver {
  url: string;
  messages: ReceivedMessage[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const messages: ReceivedMessage[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      messages.push({ headers: req.headers, body, at_ms: Date.now() });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    messages,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
