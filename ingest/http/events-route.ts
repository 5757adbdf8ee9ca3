/**
 * The HTTP door: POST /v1/events with NDJSON or a JSON array (gzip allowed), authenticated by a
 * per-tenant API key. Answers with per-event errors by index; rejected events are dead-lettered
 * and the good events beside them are stored.
 */
import { type Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics } from '../metrics.ts';
import { BatcherClosedError, BufferFullError } from '../pipeline/batcher.ts';
import type { DeadLetterRow } from '../pipeline/rows.ts';
import type { Stage } from '../pipeline/stage.ts';
import type { EventError, NormalizedEvent, ValidationResult } from '../pipeline/validate.ts';
import type { ApiKeys } from './api-keys.ts';
import { httpError } from './http-error.ts';
import { type Intake, UnavailableError } from './intake.ts';

export interface EventsRouteOptions {
  stage: Stage;
  intake: Intake;
  apiKeys: ApiKeys;
  metrics: Metrics;
  bodyLimit: number;
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

const ErrorResponse = Type.Object({ error: Type.String(), message: Type.String() });

const NDJSON_TYPES = [
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'application/json-seq',
  'text/plain',
];
const RETRY_AFTER_SECONDS = '2';

/** Gunzips request bodies sent with Content-Encoding: gzip, refusing more than `limit` bytes out. */
function gunzipLimited(payload: NodeJS.ReadableStream, limit: number): Readable {
  let decompressed = 0;
  const out = new Transform({
    transform(chunk: Buffer, _enc, done) {
      decompressed += chunk.length;
      if (decompressed > limit) {
        done(
          httpError(
            413,
            'body_too_large',
            `decompressed body is larger than ${limit} bytes (TOKENWATCH_HTTP_BODY_LIMIT_BYTES)`,
          ),
        );
        return;
      }
      done(null, chunk);
    },
  }) as Transform & { receivedEncodedLength: number };
  // fastify compares this with Content-Length (the compressed size).
  out.receivedEncodedLength = 0;
  const gunzip = createGunzip();
  payload.on('data', (chunk: Buffer) => {
    out.receivedEncodedLength += chunk.length;
  });
  gunzip.on('error', (err) =>
    out.destroy(httpError(400, 'invalid_gzip', `invalid gzip body: ${err.message}`)),
  );
  (payload as Readable).pipe(gunzip).pipe(out);
  return out;
}

interface Item {
  /** the event as text (NDJSON line, or the re-serialized array element) */
  text: string;
  /** the parsed element for JSON arrays; undefined for NDJSON lines */
  value?: unknown;
}

/** Splits a body into items (NDJSON lines, or the elements of a JSON array); an error when a JSON body does not parse as a whole. */
function splitBody(body: string, ndjson: boolean): Item[] | { error: string } {
  if (!ndjson) {
    const trimmed = body.trim();
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      return {
        error: `the body is not valid JSON (${(err as Error).message}); send a JSON array of events, or NDJSON with Content-Type: application/x-ndjson`,
      };
    }
    const elements = Array.isArray(parsed) ? parsed : [parsed];
    return elements.map((value) => ({ text: JSON.stringify(value) ?? String(value), value }));
  }
  const items: Item[] = [];
  for (const line of body.split('\n')) {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (text.trim() !== '') items.push({ text });
  }
  return items;
}

export const eventsRoute: FastifyPluginAsync<EventsRouteOptions> = async (app, opts) => {
  const { stage, intake, apiKeys, metrics } = opts;

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ['application/json', ...NDJSON_TYPES],
    { parseAs: 'string', bodyLimit: opts.bodyLimit },
    (_req, body, done) => done(null, body),
  );

  app.addHook('preParsing', async (request, _reply, payload) => {
    const encoding = (request.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding === 'gzip' || encoding === 'x-gzip') return gunzipLimited(payload, opts.bodyLimit);
    if (encoding !== 'identity') {
      throw httpError(
        415,
        'unsupported_content_encoding',
        `unsupported Content-Encoding ${JSON.stringify(encoding)}; use gzip or none`,
      );
    }
    return payload;
  });

  app.post(
    '/v1/events',
    {
      bodyLimit: opts.bodyLimit,
      schema: {
        response: { 200: IngestResponse, 400: ErrorResponse, 401: ErrorResponse, 503: ErrorResponse },
      },
      onRequest: async (request, reply) => {
        const tenant = apiKeys.authenticate(request.headers);
        if (tenant === undefined) {
          reply.header('www-authenticate', 'Bearer realm="tokenwatch"');
          return reply.code(401).send({
            error: 'unauthorized',
            message: 'send a tenant API key as Authorization: Bearer <key> or X-Api-Key',
          });
        }
        request.tenant = tenant;
      },
    },
    async (request: FastifyRequest, reply: FastifyReply) => {
      const receivedMs = Date.now();
      const tenant = request.tenant!;
      const ctype = (request.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
      const body = typeof request.body === 'string' ? request.body : '';
      const origin = request.ip;
      const items = splitBody(body, NDJSON_TYPES.includes(ctype));

      if (!Array.isArray(items)) {
        const error: EventError = { code: 'malformed_json', message: items.error };
        const letter = stage.deadLetter({
          door: 'http',
          tenant,
          origin,
          eventIndex: -1,
          error,
          payload: body,
          receivedMs,
        });
        await intake.accept([], [letter], receivedMs).catch(() => undefined);
        return reply.code(400).send({ error: 'malformed_body', message: items.error });
      }
      metrics.received.inc({ door: 'http' }, items.length);

      const events: NormalizedEvent[] = [];
      const deadLetters: DeadLetterRow[] = [];
      const errors: (EventError & { index: number })[] = [];
      const ctx = { nowMs: receivedMs, tenant };
      items.forEach((item, index) => {
        const result: ValidationResult =
          item.value === undefined
            ? stage.validateText(item.text, ctx)
            : stage.validateParsed(item.value, item.text, ctx);
        if (result.ok) {
          events.push(result.event);
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
            payload: item.text,
            receivedMs,
          }),
        );
      });

      try {
        await intake.accept(events, deadLetters, receivedMs);
      } catch (err) {
        if (
          err instanceof BufferFullError ||
          err instanceof UnavailableError ||
          err instanceof BatcherClosedError
        ) {
          if (err instanceof BufferFullError) metrics.httpBusy.inc();
          reply.header('retry-after', RETRY_AFTER_SECONDS);
          return reply.code(503).send({
            error: 'unavailable',
            message: `${err.message}; the request was not fully stored: send it again (events are de-duplicated by event_id)`,
          });
        }
        throw err;
      }
      return { accepted: events.length, rejected: errors.length, errors };
    },
  );
};

declare module 'fastify' {
  interface FastifyRequest {
    tenant?: string;
  }
}
