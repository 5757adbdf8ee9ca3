/**
 * The HTTP door: POST /v1/events with NDJSON, RFC 7464 json-seq or a JSON array (gzip or zstd allowed),
 * authenticated by a per-tenant API key. Answers with per-event errors by index; rejected events are
 * dead-lettered and the good events beside them are stored.
 *
 * Bounded per tenant and per request: a request may hold at most `maxEvents` events (413 past it);
 * each tenant has budgets of events and bytes per second (429 with Retry-After past them) and a share
 * of the insert buffer (503 past it); at most `maxInflating` gzip or zstd bodies are inflated at once (503
 * past it). Events are validated in slices shared with all other work (platform/slices.ts), so no body
 * holds the event loop for long.
 */
import { type Readable, Transform } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ApiKeys } from '../../../platform/http/api-keys.ts';
import { ErrorBody, type HttpErrorCode, httpError } from '../../../platform/http/errors.ts';
import { tenantAuth } from '../../../platform/http/tenant-auth.ts';
import { forEachInSlices } from '../../../platform/slices.ts';
import type { Metrics } from '../../metrics.ts';
import { BatcherClosedError, BufferFullError } from '../../pipeline/batcher.ts';
import type { DeadLetterRow } from '../../pipeline/rows.ts';
import type { Stage } from '../../pipeline/stage.ts';
import type { EventError, NormalizedEvent, Reporter } from '../../pipeline/validate.ts';
import { type BodyFormat, splitBody } from './body-items.ts';
import { type Intake, UnavailableError } from './intake.ts';
import type { TenantQuota } from './tenant-quota.ts';

export interface EventsRouteOptions {
  stage: Stage;
  intake: Intake;
  apiKeys: ApiKeys;
  metrics: Metrics;
  bodyLimit: number;
  /** events one request may hold */
  maxEvents: number;
  /** events per second per tenant */
  eventQuota: TenantQuota;
  /** decompressed bytes per second per tenant */
  byteQuota: TenantQuota;
  /** gzip or zstd bodies inflated at once */
  maxInflating: number;
  /** requests per second per API key (0: unlimited) */
  requestsPerSecondPerKey: number;
  /** refuse (503) while the event loop lags more than this (ms; 0: never) */
  maxEventLoopDelayMs: number;
}

const EventErrorSchema = Type.Object({
  index: Type.Integer({
    description: 'position of the event in the request (0-based; NDJSON: among non-empty lines)',
  }),
  code: Type.String(),
  message: Type.String(),
  field: Type.Optional(Type.String()),
});

const IngestResponse = Type.Object({
  accepted: Type.Integer(),
  rejected: Type.Integer(),
  errors: Type.Array(EventErrorSchema),
});

const FORMATS: Record<string, BodyFormat> = {
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'text/plain': 'ndjson',
  'application/json-seq': 'json-seq',
  'application/json': 'json',
};
const RETRY_AFTER_SECONDS = '2';

/** The Content-Encodings the door inflates: the decoder of each, and the error a broken body gets. */
const ENCODINGS = {
  gzip: { decoder: createGunzip, error: 'invalid_gzip' },
  'x-gzip': { decoder: createGunzip, error: 'invalid_gzip' },
  // what the SDK sends by default: cheaper to compress than gzip at a better ratio (bench:sdk)
  zstd: { decoder: createZstdDecompress, error: 'invalid_zstd' },
} as const satisfies Record<string, { decoder: () => Transform; error: HttpErrorCode }>;
type Encoding = keyof typeof ENCODINGS;
const isEncoding = (name: string): name is Encoding => Object.hasOwn(ENCODINGS, name);
/** said on every answer (RFC 7694): the SDK sends zstd once it reads it, gzip until then */
const ACCEPT_ENCODING = 'zstd, gzip';

/** Inflates a request body sent with a Content-Encoding of ENCODINGS, refusing more than `limit` bytes out. */
function inflateLimited(
  payload: NodeJS.ReadableStream,
  encoding: Encoding,
  limit: number,
  done: () => void,
): Readable {
  let decompressed = 0;
  const out = new Transform({
    transform(chunk: Buffer, _enc, next) {
      decompressed += chunk.length;
      if (decompressed > limit) {
        next(
          httpError(
            'body_too_large',
            `decompressed body is larger than ${limit} bytes (TOKENWATCH_HTTP_BODY_LIMIT_BYTES)`,
          ),
        );
        return;
      }
      next(null, chunk);
    },
  }) as Transform & { receivedEncodedLength: number };
  // fastify compares this with Content-Length (the compressed size).
  out.receivedEncodedLength = 0;
  const { decoder, error } = ENCODINGS[encoding];
  const inflate = decoder();
  payload.on('data', (chunk: Buffer) => {
    out.receivedEncodedLength += chunk.length;
  });
  const name = encoding === 'x-gzip' ? 'gzip' : encoding;
  inflate.on('error', (err) => out.destroy(httpError(error, `invalid ${name} body: ${err.message}`)));
  // The inflating slot is given back however the body ends: read, refused, or the client gone.
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    done();
  };
  out.once('close', release);
  // fastify listens for errors only while it reads the body. A request it answers without reading
  // it (unsupported media type, a refused key) must not leave the decoder's error without a listener:
  // that would end the process. The error is still seen by fastify when it does read.
  out.on('error', () => {});
  (payload as Readable).once('error', (err) => out.destroy(err));
  (payload as Readable).once('aborted', () => out.destroy());
  (payload as Readable).pipe(inflate).pipe(out);
  return out;
}

export const eventsRoute: FastifyPluginAsync<EventsRouteOptions> = async (app, opts) => {
  const { stage, intake, apiKeys, metrics } = opts;
  let inflating = 0;

  // Every answer of the door, refusals included, says which request codings it takes.
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('accept-encoding', ACCEPT_ENCODING);
  });

  // Requests per key (unknown keys: per client address), before anything else is done for them —
  // before the key is checked, too, so guessing keys is as limited as using one.
  if (opts.requestsPerSecondPerKey > 0) {
    await app.register(rateLimit, {
      global: false,
      max: opts.requestsPerSecondPerKey,
      timeWindow: 1000,
      hook: 'onRequest',
      keyGenerator: (request) => apiKeys.identify(request.headers)?.id ?? `address:${request.ip}`,
      onExceeded: () => metrics.httpRefused.inc({ reason: 'rate_limited' }),
      errorResponseBuilder: (_request, context) => ({
        statusCode: 429,
        code: 'rate_limited',
        message: `more than ${context.max} requests per second with this key (TOKENWATCH_HTTP_REQUESTS_PER_SECOND_PER_KEY); retry after ${context.after}`,
      }),
    });
    app.addHook('onRequest', app.rateLimit());
  }
  app.addHook(
    'onRequest',
    tenantAuth([{ kind: 'event', keys: apiKeys, env: 'TOKENWATCH_API_KEYS' }], 'POST /v1/events'),
  );
  // Shed load while the process is saturated, rather than queue requests it cannot serve in time.
  if (opts.maxEventLoopDelayMs > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: opts.maxEventLoopDelayMs,
      retryAfter: 2,
      pressureHandler: (_request, reply, type, value) => {
        metrics.httpRefused.inc({ reason: 'under_pressure' });
        reply.header('retry-after', '2');
        reply.code(503).send({
          error: 'unavailable',
          message: `tokenwatch is under pressure (${type} ${value}, TOKENWATCH_HTTP_MAX_EVENT_LOOP_DELAY_MS); retry shortly`,
        });
      },
    });
  }

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    Object.keys(FORMATS),
    { parseAs: 'string', bodyLimit: opts.bodyLimit },
    (_req, body, done) => done(null, body),
  );

  app.addHook('preParsing', async (request, _reply, payload) => {
    const encoding = (request.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (isEncoding(encoding)) {
      if (inflating >= opts.maxInflating) {
        metrics.httpRefused.inc({ reason: 'inflating' });
        throw httpError(
          'busy',
          `${inflating} compressed bodies are being inflated already (TOKENWATCH_HTTP_MAX_INFLATING); retry shortly`,
          { 'retry-after': '1' },
        );
      }
      inflating++;
      return inflateLimited(payload, encoding, opts.bodyLimit, () => {
        inflating--;
      });
    }
    if (encoding !== 'identity') {
      throw httpError(
        'unsupported_content_encoding',
        `unsupported Content-Encoding ${JSON.stringify(encoding.slice(0, 40))}; use zstd, gzip or none`,
      );
    }
    return payload;
  });

  const bytesOver = (tenant: string, wait: number) =>
    `tenant ${JSON.stringify(tenant)} is over its budget of body bytes (TOKENWATCH_TENANT_BYTES_PER_SECOND, burst ${opts.byteQuota.capacity} bytes); retry after ${wait} s`;
  const tooBusy = (error: HttpErrorCode, message: string, seconds: string) =>
    httpError(error, message, { 'retry-after': seconds });

  app.post(
    '/v1/events',
    {
      bodyLimit: opts.bodyLimit,
      schema: {
        response: {
          200: IngestResponse,
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
      onRequest: async (request) => {
        const tenant = request.auth!.tenant;
        // Refused before the body is read when its declared size alone is over the tenant's budget.
        const declared = Number(request.headers['content-length'] ?? 0);
        const wait = Number.isFinite(declared) ? opts.byteQuota.wait(tenant, declared) : 0;
        if (wait > 0) {
          metrics.httpRefused.inc({ reason: 'bytes_quota' });
          throw tooBusy('rate_limited', bytesOver(tenant, wait), String(wait));
        }
      },
    },
    async (request: FastifyRequest) => {
      const receivedMs = Date.now();
      const tenant = request.auth!.tenant;
      const ctype = (request.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
      const body = typeof request.body === 'string' ? request.body : '';
      const origin = request.ip;

      const bytesWait = opts.byteQuota.take(tenant, Buffer.byteLength(body));
      if (bytesWait > 0) {
        metrics.httpRefused.inc({ reason: 'bytes_quota' });
        throw tooBusy('rate_limited', bytesOver(tenant, bytesWait), String(bytesWait));
      }
      const split = await splitBody(body, FORMATS[ctype] ?? 'ndjson', opts.maxEvents);
      if (!split.ok && split.tooMany) {
        metrics.httpRefused.inc({ reason: 'too_many_events' });
        throw httpError(
          'too_many_events',
          `the request holds more than ${opts.maxEvents} events (TOKENWATCH_HTTP_MAX_EVENTS_PER_REQUEST); send at most ${opts.maxEvents} per request`,
        );
      }
      if (!split.ok) {
        const error: EventError = { code: 'malformed_json', message: split.error };
        const letter = stage.deadLetter({
          door: 'http',
          tenant,
          origin,
          eventIndex: -1,
          error,
          payload: body,
          receivedMs,
        });
        await intake.accept([], [letter], receivedMs, tenant).catch(() => undefined);
        throw httpError('malformed_body', split.error);
      }
      const { items } = split;
      const eventsWait = opts.eventQuota.take(tenant, items.length);
      if (eventsWait > 0) {
        metrics.httpRefused.inc({ reason: 'events_quota' });
        throw tooBusy(
          'rate_limited',
          `tenant ${JSON.stringify(tenant)} is over its budget of events (TOKENWATCH_TENANT_EVENTS_PER_SECOND, burst ${opts.eventQuota.capacity}); retry after ${eventsWait} s`,
          String(eventsWait),
        );
      }
      metrics.received.inc({ door: 'http' }, items.length);

      const events: NormalizedEvent[] = [];
      // beside events, where the intake relays them: each one's own text when it can go as it is
      const relayTexts: (string | undefined)[] = [];
      const deadLetters: DeadLetterRow[] = [];
      const errors: (EventError & { index: number })[] = [];
      const key = apiKeys.identify(request.headers);
      const reporter: Reporter = { id: key?.id ?? '', role: key?.role ?? '', door: 'http' };
      const ctx = { nowMs: receivedMs, tenant, reporter, keepRelayText: intake.relays === true };
      // In slices shared with every other request and partition: I/O is served between them.
      await forEachInSlices(items, (text, index) => {
        const result = stage.validateText(text, ctx);
        if (result.ok) {
          events.push(result.event);
          relayTexts.push(result.relayText);
          return;
        }
        errors.push({ index, ...result.error });
        deadLetters.push(
          stage.deadLetter({
            door: 'http',
            tenant,
            origin,
            eventIndex: index,
            error: result.error,
            payload: text,
            receivedMs,
          }),
        );
      });

      try {
        await intake.accept(events, deadLetters, receivedMs, tenant, relayTexts);
      } catch (err) {
        if (
          err instanceof BufferFullError ||
          err instanceof UnavailableError ||
          err instanceof BatcherClosedError
        ) {
          if (err instanceof BufferFullError) metrics.httpBusy.inc();
          throw tooBusy(
            'unavailable',
            `${err.message}; the request was not fully stored: send it again (events are de-duplicated by event_id)`,
            RETRY_AFTER_SECONDS,
          );
        }
        throw err;
      }
      return { accepted: events.length, rejected: errors.length, errors };
    },
  );
};
