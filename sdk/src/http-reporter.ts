/**
 * The HTTP transport: batches as a compressed JSON array to tokenwatch's `POST /v1/events`, with a
 * tenant API key. 2xx: taken (events tokenwatch refused individually are counted, not resent);
 * 408, 425, 429, 5xx and network errors: retried; any other 4xx: the batch is dropped. It takes the
 * events as JSON text (the reporter serialises each as it is reported); a batch is their bytes in one buffer.
 * Compression `auto` (the default): gzip, which every tokenwatch takes, until tokenwatch's answer says
 * it takes zstd (`Accept-Encoding: zstd, gzip` on its answers, RFC 7694), then zstd: less CPU than
 * gzip at a better ratio (bench:sdk). `zstd` sends zstd from the start; should tokenwatch refuse it
 * (415: a version from before zstd), the transport sends gzip from that batch on.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import {
  constants,
  gzip as gzipCallback,
  gzipSync,
  zstdCompress as zstdCallback,
  zstdCompressSync,
} from 'node:zlib';
import { ConfigurationError } from './errors.ts';
import type { TokenEvent } from './events.ts';
import { type SdkLogger, stderrLogger } from './log.ts';
import {
  BatchingReporter,
  REPORTER_DEFAULTS,
  type ReporterOptions,
  type SendResult,
  type Transport,
} from './reporter.ts';

const gzip = promisify(gzipCallback);
const zstd = promisify(zstdCallback);

/**
 * How batches are compressed: `auto` (default: zstd once tokenwatch says it takes it, gzip until
 * then), `zstd`, `gzip` (what any tokenwatch takes) or `none`.
 */
export type HttpCompression = 'auto' | 'zstd' | 'gzip' | 'none';
const COMPRESSIONS: readonly HttpCompression[] = ['auto', 'zstd', 'gzip', 'none'];
type Coding = Exclude<HttpCompression, 'auto'>;
/** an answer's Accept-Encoding (the codings its server takes in requests) names zstd */
const TAKES_ZSTD = /(?:^|,)\s*zstd\s*(?:[,;]|$)/i;

/** Level 1 of each: on a batch of events, faster levels gain no CPU and higher ones little ratio. */
const LEVEL = {
  zstd: { params: { [constants.ZSTD_c_compressionLevel]: 1 } },
  gzip: { level: 1 },
};
/**
 * Batches up to this size are compressed on the event loop, at once: zlib's thread pool costs more
 * CPU in the hand-off than a batch's compression itself (bench:sdk: about 170 µs of CPU per call
 * against 35 µs, on top of 0.7 µs per event either way), and a batch of what 20 ms gather at a
 * high rate (about 500 events, 250 KiB) takes a fraction of a millisecond. Larger ones (a backlog sent after an outage, a
 * large batchSize) go to the thread pool, so the event loop never stalls for long.
 */
export const SYNC_COMPRESS_MAX_BYTES = 512 * 1024;
const COMPRESS: Record<Exclude<Coding, 'none'>, (json: Buffer) => Buffer | Promise<Buffer>> = {
  zstd: (json) =>
    json.length <= SYNC_COMPRESS_MAX_BYTES ? zstdCompressSync(json, LEVEL.zstd) : zstd(json, LEVEL.zstd),
  gzip: (json) =>
    json.length <= SYNC_COMPRESS_MAX_BYTES ? gzipSync(json, LEVEL.gzip) : gzip(json, LEVEL.gzip),
};

/**
 * `[a,b,…]` of the texts as UTF-8, each written straight into one buffer: no joined string that is
 * read again to be encoded (bench:sdk: the join and its encoding cost more than the writes).
 */
export function jsonArray(texts: readonly string[]): Buffer {
  let bytes = texts.length + 1;
  for (let i = 0; i < texts.length; i++) bytes += Buffer.byteLength(texts[i]!);
  const body = Buffer.allocUnsafe(Math.max(bytes, 2));
  let at = 0;
  body[at++] = 0x5b; // [
  for (let i = 0; i < texts.length; i++) {
    if (i > 0) body[at++] = 0x2c; // ,
    at += body.write(texts[i]!, at, 'utf8');
  }
  body[at++] = 0x5d; // ]
  return body;
}

export interface HttpReporterOptions extends ReporterOptions {
  /** tokenwatch's base URL, e.g. `http://tokenwatch:8080`; events go to `<url>/v1/events` */
  url: string;
  /** a tenant API key (TOKENWATCH_API_KEYS) */
  apiKey: string;
  /** how batches are compressed (default `auto`: zstd once tokenwatch says it takes it, gzip until then) */
  compression?: HttpCompression;
  /** @deprecated use `compression`: false is `none`; true is the default (`auto`) */
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

function compressionOf(o: HttpReporterOptions): HttpCompression {
  if (o.compression !== undefined) {
    if (!COMPRESSIONS.includes(o.compression))
      throw new ConfigurationError(
        `compression must be one of ${COMPRESSIONS.join(', ')}; got ${JSON.stringify(o.compression)}`,
      );
    return o.compression;
  }
  return o.gzip === false ? 'none' : 'auto';
}

interface Answer {
  status: number;
  text: string;
  /** the codings the server takes in requests (RFC 7694); empty when it does not say */
  acceptEncoding: string;
}

export class HttpTransport implements Transport {
  readonly target: string;
  readonly #headers: Record<string, string>;
  /** what batches are sent with now */
  #coding: Coding;
  /** `auto`: the coding moves to zstd once an answer says tokenwatch takes it */
  readonly #auto: boolean;
  readonly #timeoutMs: number;
  readonly #log: SdkLogger;
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
    const compression = compressionOf(o);
    this.#auto = compression === 'auto';
    this.#coding = compression === 'auto' ? 'gzip' : compression;
    this.#timeoutMs = o.timeoutMs ?? 5_000;
    this.#log = o.logger ?? stderrLogger;
    this.#headers = { authorization: `Bearer ${o.apiKey}`, 'content-type': 'application/json' };
  }

  /** How batches are compressed now. */
  get coding(): Coding {
    return this.#coding;
  }

  send(batch: TokenEvent[]): Promise<SendResult> {
    return this.sendJson(batch.map((e) => JSON.stringify(e)));
  }

  async sendJson(batch: string[]): Promise<SendResult> {
    const json = jsonArray(batch);
    const coding = this.#coding;
    let response: Answer;
    try {
      const body = coding === 'none' ? json : await COMPRESS[coding](json);
      response = await this.#post(body, coding);
    } catch (err) {
      return { ok: false, retry: true, error: (err as Error).message };
    }
    const { text } = response;
    if (this.#auto && coding === 'gzip' && TAKES_ZSTD.test(response.acceptEncoding)) this.#coding = 'zstd';
    if (response.status === 415 && coding === 'zstd') {
      // a tokenwatch from before zstd: gzip from now on, and this batch again
      this.#coding = 'gzip';
      this.#log.warn(
        { target: this.target, answer: text.slice(0, 200) },
        'tokenwatch does not take zstd bodies (an older version, or a proxy between): sending gzip from now on',
      );
      return { ok: false, retry: true, error: `HTTP 415 to zstd: ${text.slice(0, 200)}; gzip from now on` };
    }
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
  #post(body: Buffer, coding: Coding): Promise<Answer> {
    const send = this.#url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const request = send(
        this.#url,
        {
          method: 'POST',
          agent: this.#agent,
          headers: {
            ...this.#headers,
            ...(coding === 'none' ? {} : { 'content-encoding': coding }),
            'content-length': body.length,
          },
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
            resolve({
              status: response.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              acceptEncoding: String(response.headers['accept-encoding'] ?? ''),
            }),
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

/**
 * The HTTP reporter's batchSize unless told: a request costs a few hundred µs of CPU whatever it
 * holds, so at a high rate the batch follows the rate (rate × lingerMs events, the linger bound kept)
 * instead of going out at 500; 2,000 events (about 1 MiB of JSON) are well inside tokenwatch's
 * request limits (TOKENWATCH_HTTP_MAX_EVENTS_PER_REQUEST, TOKENWATCH_HTTP_BODY_LIMIT_BYTES). At most a
 * quarter of maxQueue: with the sink down, the batch in flight never holds most of the queue.
 */
export const HTTP_BATCH_SIZE = 2_000;

/** The batchSize an HTTP reporter with these options uses. */
export function httpBatchSize(o: ReporterOptions): number | undefined {
  if (o.batchSize !== undefined) return o.batchSize;
  const maxQueue = o.maxQueue ?? REPORTER_DEFAULTS.maxQueue;
  // a maxQueue the reporter refuses: it says so with its own message
  return Number.isInteger(maxQueue) && maxQueue >= 1
    ? Math.max(1, Math.min(HTTP_BATCH_SIZE, Math.floor(maxQueue / 4)))
    : undefined;
}

/** A reporter that sends events to tokenwatch over HTTP. */
export function createHttpReporter(options: HttpReporterOptions): BatchingReporter {
  return new BatchingReporter(new HttpTransport(options), {
    ...options,
    batchSize: httpBatchSize(options),
  });
}
