/**
 * One HTTP request (POST for the revocation client and the alert webhooks; also DELETE and GET for
 * auth servers' admin APIs): node:http(s) with keep-alive,
 * an overall deadline, a capped response body and (optionally) an address guard applied to every
 * address the host name resolves to. Errors carry a code saying which of these went wrong.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { AddressGuard } from './address-guard.ts';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** at most `maxResponseBytes` of the body, as text */
  body: string;
  latencyMs: number;
}

export type HttpErrorCode =
  | 'ERR_TOKENWATCH_HTTP_TIMEOUT'
  | 'ERR_TOKENWATCH_HTTP_REFUSED_ADDRESS'
  | 'ERR_TOKENWATCH_HTTP_NETWORK';

export class HttpRequestError extends Error {
  readonly code: HttpErrorCode;
  readonly latencyMs: number;

  constructor(code: HttpErrorCode, message: string, latencyMs: number) {
    super(message);
    this.name = 'HttpRequestError';
    this.code = code;
    this.latencyMs = latencyMs;
  }
}

export interface PostOptions {
  headers: Record<string, string>;
  /** deadline for the whole exchange, connect to last body byte */
  timeoutMs: number;
  guard?: AddressGuard;
  maxResponseBytes?: number;
}

const agents = {
  'http:': new HttpAgent({ keepAlive: true, maxSockets: 64 }),
  'https:': new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
};

/** A DNS lookup that fails when any resolved address is refused by the guard. */
function guardedLookup(guard: AddressGuard): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      for (const a of addresses) {
        const refusal = guard.refusal(a.address);
        if (refusal !== undefined) {
          const e = Object.assign(new Error(`${hostname} resolves to ${refusal}`), {
            code: 'ERR_TOKENWATCH_HTTP_REFUSED_ADDRESS',
          });
          return callback(e, '', 0);
        }
      }
      if (options.all) return (callback as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}

export type HttpMethod = 'GET' | 'POST' | 'DELETE' | 'PUT';

export function post(url: URL, body: string | Buffer, options: PostOptions): Promise<HttpResponse> {
  return send('POST', url, body, options);
}

/** One request with `method`; `body` '' sends none (and no content-length for GET/DELETE). */
export function send(
  method: HttpMethod,
  url: URL,
  body: string | Buffer,
  options: PostOptions,
): Promise<HttpResponse> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const maxBytes = options.maxResponseBytes ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    const protocol = url.protocol;
    if (protocol !== 'http:' && protocol !== 'https:') {
      reject(new HttpRequestError('ERR_TOKENWATCH_HTTP_NETWORK', `unsupported URL scheme ${protocol}`, 0));
      return;
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (options.guard !== undefined && isIP(host) !== 0) {
      const refusal = options.guard.refusal(host);
      if (refusal !== undefined) {
        reject(new HttpRequestError('ERR_TOKENWATCH_HTTP_REFUSED_ADDRESS', refusal, 0));
        return;
      }
    }
    const request = protocol === 'https:' ? httpsRequest : httpRequest;
    const length = Buffer.byteLength(body);
    const req = request(url, {
      method,
      agent: agents[protocol],
      headers: {
        ...options.headers,
        ...(length > 0 || method === 'POST' || method === 'PUT' ? { 'content-length': String(length) } : {}),
      },
      ...(options.guard !== undefined ? { lookup: guardedLookup(options.guard) } : {}),
    });
    const timer = setTimeout(() => {
      req.destroy(
        new HttpRequestError(
          'ERR_TOKENWATCH_HTTP_TIMEOUT',
          `no complete answer from ${url.origin} within ${options.timeoutMs} ms`,
          elapsed(),
        ),
      );
    }, options.timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < maxBytes) chunks.push(chunk.subarray(0, maxBytes - size));
        size += chunk.length;
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          latencyMs: elapsed(),
        });
      });
      res.on('error', (err) => req.destroy(err));
    });
    req.on('error', (err: Error & { code?: string }) => {
      clearTimeout(timer);
      if (err instanceof HttpRequestError) return reject(err);
      const code =
        err.code === 'ERR_TOKENWATCH_HTTP_REFUSED_ADDRESS'
          ? 'ERR_TOKENWATCH_HTTP_REFUSED_ADDRESS'
          : 'ERR_TOKENWATCH_HTTP_NETWORK';
      reject(new HttpRequestError(code, `${method} ${url.origin}${url.pathname}: ${err.message}`, elapsed()));
    });
    req.end(body);
  });
}
