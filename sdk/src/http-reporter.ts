/**
 * The HTTP transport: batches as a gzipped JSON array to tokenwatch's `POST /v1/events`, with a
 * tenant API key. 2xx: taken (events tokenwatch refused individually are counted, not resent);
 * 408, 425, 429, 5xx and network errors: retried; any other 4xx: the batch is dropped.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { ConfigurationError } from './errors.ts';
import type { TokenEvent } from './events.ts';
import { BatchingReporter, type ReporterOptions, type SendResult, type Transport } from './reporter.ts';

const gzip = promisify(gzipCallback);

export interface HttpReporterOptions extends ReporterOptions {
  /** tokenwatch's base URL, e.g. `http://tokenwatch:8080`; events go to `<url>/v1/events` */
  url: string;
  /** a tenant API key (TOKENWATCH_API_KEYS) */
  apiKey: string;
  /** compress batches (default true) */
  gzip?: boolean;
  /** per request, ms (default 5,000) */
  timeoutMs?: number;
}

const RETRY_STATUSES = new Set([408, 425, 429]);
/** answers are small JSON; more than this is not read */
const MAX_ANSWER_BYTES = 64 * 1024;

export function baseUrl(url: string, option: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new ConfigurationError(
      `${option} must be an http(s) URL such as http://tokenwatch:8080; got ${JSON.stringify(url)}`,
    );
  }
  return url.replace(/\/+$/, '');
}

export class HttpTransport implements Transport {
  readonly target: string;
  readonly #headers: Record<string, string>;
  readonly #gzip: boolean;
  readonly #timeoutMs: number;
  readonly #url: URL;
  /** keep-alive: one connection reused batch after batch (node:http costs less CPU per request than fetch) */
  readonly #agent: HttpAgent;

  constructor(o: HttpReporterOptions) {
    if (typeof o.apiKey !== 'string' || o.apiKey === '')
      throw new ConfigurationError('apiKey is required: a tenant API key from TOKENWATCH_API_KEYS');
    this.target = `${baseUrl(o.url, 'url')}/v1/events`;
    this.#url = new URL(this.target);
    this.#agent =
      this.#url.protocol === 'https:'
        ? new HttpsAgent({ keepAlive: true, maxSockets: 1 })
        : new HttpAgent({ keepAlive: true, maxSockets: 1 });
    this.#gzip = o.gzip ?? true;
    this.#timeoutMs = o.timeoutMs ?? 5_000;
    this.#headers = {
      authorization: `Bearer ${o.apiKey}`,
      'content-type': 'application/json',
      ...(this.#gzip ? { 'content-encoding': 'gzip' } : {}),
    };
  }

  async send(batch: TokenEvent[]): Promise<SendResult> {
    const json = JSON.stringify(batch);
    let response: { status: number; text: string };
    try {
      response = await this.#post(this.#gzip ? await gzip(json, { level: 1 }) : Buffer.from(json));
    } catch (err) {
      return { ok: false, retry: true, error: (err as Error).message };
    }
    const { text } = response;
    if (response.status >= 200 && response.status < 300) {
      try {
        const answer = JSON.parse(text) as { rejected?: unknown; errors?: unknown[] };
        const refused = Number(answer.rejected) || 0;
        if (refused > 0) return { ok: true, refused, detail: JSON.stringify(answer.errors?.slice(0, 3)) };
      } catch {
        // an answer without a count: everything was taken
      }
      return { ok: true };
    }
    const retry = response.status >= 500 || RETRY_STATUSES.has(response.status);
    return { ok: false, retry, error: `HTTP ${response.status}: ${text.slice(0, 500)}` };
  }

  /** One POST of `body`; rejects on a network error or after the timeout. */
  #post(body: Buffer): Promise<{ status: number; text: string }> {
    const send = this.#url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const request = send(
        this.#url,
        {
          method: 'POST',
          agent: this.#agent,
          headers: { ...this.#headers, 'content-length': body.length },
          timeout: this.#timeoutMs,
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
          });
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)));
      request.on('error', reject);
      request.end(body);
    });
  }

  async close(): Promise<void> {
    this.#agent.destroy();
  }
}

/** A reporter that sends events to tokenwatch over HTTP. */
export function createHttpReporter(options: HttpReporterOptions): BatchingReporter {
  return new BatchingReporter(new HttpTransport(options), options);
}
