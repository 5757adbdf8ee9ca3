/** Shared fixtures for the auth server tests: a real server on 127.0.0.1, a real event receiver, HTTP helpers. */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { type AuthServerDeps, buildAuthServer } from '../../../../examples/auth-server/app.ts';
import { loadAuthConfig } from '../../../../examples/auth-server/config.ts';

export const ADMIN_TOKEN = 'admin-token-for-tests';
export const REVOCATION_TOKEN = 'static-revocation-token';
export const CLIENTS = 'tokenwatch:tw-secret:revoke,reader:reader-secret:read';

export interface TestServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** Builds and listens on a free port of 127.0.0.1; `env` adds to or overrides the test defaults. */
export async function startServer(
  env: Record<string, string> = {},
  deps?: AuthServerDeps,
): Promise<TestServer> {
  const config = loadAuthConfig({
    AUTH_LOG_LEVEL: 'silent',
    AUTH_PORT: '0',
    AUTH_ADMIN_TOKEN: ADMIN_TOKEN,
    AUTH_REVOCATION_TOKEN: REVOCATION_TOKEN,
    AUTH_CLIENTS: CLIENTS,
    AUTH_USERS: 'alice:alice-pw,bob:bob-pw',
    ...env,
  });
  const app = await buildAuthServer(config, deps);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return { app, url, close: () => app.close() };
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function asJson(response: Response): Promise<JsonResponse> {
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? {} : JSON.parse(text) };
}

/** POSTs `fields` form-encoded (as OAuth clients do). */
export async function postForm(
  url: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  return asJson(await fetch(url, { method: 'POST', headers, body: new URLSearchParams(fields) }));
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  return asJson(
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    }),
  );
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<JsonResponse> {
  return asJson(await fetch(url, { headers }));
}

export interface Grant {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  scope: string;
}

/** Logs in with the password grant; fails the test unless it succeeds. */
export async function login(
  server: TestServer,
  username = 'alice',
  password = `${username}-pw`,
  headers: Record<string, string> = {},
): Promise<Grant> {
  const response = await postForm(
    `${server.url}/oauth/token`,
    { grant_type: 'password', username, password, client_id: 'web' },
    headers,
  );
  if (response.status !== 200) throw new Error(`login failed: ${JSON.stringify(response.body)}`);
  return response.body as unknown as Grant;
}

export function refresh(server: TestServer, refreshToken: string, headers: Record<string, string> = {}) {
  return postForm(
    `${server.url}/oauth/token`,
    { grant_type: 'refresh_token', refresh_token: refreshToken },
    headers,
  );
}

/** A client-credentials access token of a client in CLIENTS. */
export async function clientToken(
  server: TestServer,
  id = 'tokenwatch',
  secret = 'tw-secret',
): Promise<string> {
  const basic = Buffer.from(`${id}:${secret}`).toString('base64');
  const response = await postForm(
    `${server.url}/oauth/token`,
    { grant_type: 'client_credentials' },
    { authorization: `Basic ${basic}` },
  );
  if (response.status !== 200) throw new Error(`client_credentials failed: ${JSON.stringify(response.body)}`);
  return response.body['access_token'] as string;
}

/** The claims part of a JWT (no verification). */
export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

/**
 * A stand-in for tokenwatch's ingest API: POST /v1/events with a JSON array, on 127.0.0.1.
 * `status` is what it answers (set 503 to play "down"); `requests` keeps every request received.
 */
export class EventReceiver {
  status = 200;
  readonly events: Record<string, unknown>[] = [];
  readonly requests: { status: number; authorization: string | undefined; body: string }[] = [];
  private readonly server: Server = createServer((request, response) => this.handle(request, response));
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Waits until `predicate` holds for the events received, or fails after `timeoutMs`. */
  async waitFor(predicate: (events: Record<string, unknown>[]) => boolean, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.events)) {
      if (Date.now() > deadline)
        throw new Error(`events not received in time; got ${JSON.stringify(this.events)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = (request.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      const status = request.url === '/v1/events' && request.method === 'POST' ? this.status : 404;
      this.requests.push({ status, authorization: request.headers.authorization, body });
      if (status === 200) this.events.push(...(JSON.parse(body) as Record<string, unknown>[]));
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(status === 200 ? { accepted: 1 } : { error: 'unavailable' }));
    });
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
