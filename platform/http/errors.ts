/**
 * The HTTP API's errors: one catalogue of stable codes, each with its status, what it means and what
 * to do. Every refusal tokenwatch answers is `{ error: <code>, message }` with a code from here —
 * thrown as an HttpError, or translated from what fastify and its plugins throw (their internal
 * `FST_ERR_*` codes never reach a client). docs/errors.md is generated from this table.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';

interface ErrorEntry {
  readonly status: number;
  /** what went wrong, in a sentence (docs/errors.md) */
  readonly means: string;
  /** what the client does about it */
  readonly fix: string;
}

export const HTTP_ERRORS = {
  bad_request: {
    status: 400,
    means: 'the request is not one tokenwatch can read',
    fix: 'the message names what is wrong; fix the request',
  },
  invalid_request: {
    status: 400,
    means: 'a query parameter, header or body is outside its schema (the OpenAPI document, `/openapi.json`)',
    fix: 'the message names the field and its rule',
  },
  invalid_time: {
    status: 400,
    means: '`from` or `to` is neither RFC 3339 nor epoch milliseconds',
    fix: 'send e.g. `2026-12-01T10:00:00Z` or `1796119200000`',
  },
  invalid_range: { status: 400, means: '`from` is not before `to`', fix: 'swap or widen the range' },
  invalid_after: {
    status: 400,
    means: '`after` is not a seq cursor',
    fix: 'send the `next_after` of the previous answer, or 0 for every notice in force',
  },
  malformed_body: {
    status: 400,
    means: 'the body cannot be split into events (a JSON array that does not parse, …); it is dead-lettered',
    fix: 'send NDJSON, JSON text sequences or one JSON array of events',
  },
  invalid_gzip: {
    status: 400,
    means: 'the body says `Content-Encoding: gzip` but does not inflate',
    fix: 'send valid gzip, or no Content-Encoding',
  },
  invalid_zstd: {
    status: 400,
    means: 'the body says `Content-Encoding: zstd` but does not decompress',
    fix: 'send a valid zstd frame, or no Content-Encoding',
  },
  unauthorized: {
    status: 401,
    means: 'no key, or a key tokenwatch does not know (the answer carries `WWW-Authenticate`)',
    fix: 'send the key the route takes as `Authorization: Bearer <key>` or `X-Api-Key`',
  },
  forbidden: {
    status: 403,
    means: 'the key is known but may not read what was asked (another tenant)',
    fix: 'ask for the key’s own tenant, or use a `*` read key',
  },
  not_found: {
    status: 404,
    means: 'no route has this method and path',
    fix: 'the message lists the routes; the OpenAPI document describes them',
  },
  body_too_large: {
    status: 413,
    means: 'the body (after gzip or zstd inflation) is over `TOKENWATCH_HTTP_BODY_LIMIT_BYTES`',
    fix: 'send smaller requests',
  },
  too_many_events: {
    status: 413,
    means: 'the body holds more than `TOKENWATCH_HTTP_MAX_EVENTS_PER_REQUEST` events',
    fix: 'split the batch',
  },
  unsupported_media_type: {
    status: 415,
    means: 'the Content-Type is not one the route reads',
    fix: 'events: `application/x-ndjson`, `application/json-seq` or `application/json`',
  },
  unsupported_content_encoding: {
    status: 415,
    means: 'a Content-Encoding other than zstd or gzip',
    fix: 'send zstd, gzip or no Content-Encoding',
  },
  rate_limited: {
    status: 429,
    means:
      'a per-key request rate or a tenant’s event or byte budget is spent (the answer carries `Retry-After`)',
    fix: 'retry after the seconds `Retry-After` gives; the events were not stored',
  },
  internal_error: {
    status: 500,
    means: 'tokenwatch failed; the service log has the cause (the answer never does)',
    fix: 'retry; report it with the time of the request if it persists',
  },
  unavailable: {
    status: 503,
    means:
      'storage or Kafka cannot take the events now, the buffer is full, or the process is saturated (`Retry-After`)',
    fix: 'send the same request again later: events are de-duplicated by `event_id`',
  },
  busy: {
    status: 503,
    means:
      'too many gzip or zstd bodies are being inflated at once (`TOKENWATCH_HTTP_MAX_INFLATING`; `Retry-After`)',
    fix: 'retry shortly',
  },
} as const satisfies Record<string, ErrorEntry>;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/** The body of every error answer. */
export const ErrorBody = Type.Object(
  {
    error: Type.Union(
      (Object.keys(HTTP_ERRORS) as HttpErrorCode[]).map((c) => Type.Literal(c)),
      { description: 'a stable code (docs/errors.md)' },
    ),
    message: Type.String({ description: 'what was wrong, with what input, and what to do' }),
  },
  { additionalProperties: false },
);

/** An error the HTTP API answers with its code's status and `{ error: code, message }`. */
export class HttpError extends Error {
  readonly code: HttpErrorCode;
  readonly statusCode: number;
  readonly headers: Record<string, string>;

  constructor(code: HttpErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.code = code;
    this.statusCode = HTTP_ERRORS[code].status;
    this.headers = headers;
  }
}

export const httpError = (code: HttpErrorCode, message: string, headers?: Record<string, string>) =>
  new HttpError(code, message, headers);

/** Fastify's own refusals, by their internal code, as ours. */
const FASTIFY_CODES: Record<string, HttpErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_body',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_body',
  FST_ERR_VALIDATION: 'invalid_request',
};

/** The code of a status fastify or a plugin answered without one of ours. */
const byStatus = (status: number): HttpErrorCode =>
  status === 401
    ? 'unauthorized'
    : status === 403
      ? 'forbidden'
      : status === 404
        ? 'not_found'
        : status === 413
          ? 'body_too_large'
          : status === 415
            ? 'unsupported_media_type'
            : status === 429
              ? 'rate_limited'
              : status === 503
                ? 'unavailable'
                : status >= 500
                  ? 'internal_error'
                  : 'bad_request';

const isCode = (c: unknown): c is HttpErrorCode => typeof c === 'string' && Object.hasOwn(HTTP_ERRORS, c);

/** What to answer for anything thrown while serving a request. Server errors hide their cause. */
export function errorAnswer(err: unknown): {
  status: number;
  body: { error: HttpErrorCode; message: string };
  headers: Record<string, string>;
} {
  const e = (err ?? {}) as { statusCode?: unknown; code?: unknown; message?: unknown; headers?: unknown };
  const headers = (typeof e.headers === 'object' && e.headers !== null ? e.headers : {}) as Record<
    string,
    string
  >;
  const thrownStatus = typeof e.statusCode === 'number' && e.statusCode >= 400 ? e.statusCode : 500;
  const code: HttpErrorCode = isCode(e.code)
    ? e.code
    : typeof e.code === 'string' && Object.hasOwn(FASTIFY_CODES, e.code)
      ? FASTIFY_CODES[e.code]!
      : byStatus(thrownStatus);
  const status = HTTP_ERRORS[code].status;
  if (status >= 500 && !(err instanceof HttpError) && code !== 'unavailable')
    return { status, body: { error: code, message: 'internal error; see the service log' }, headers: {} };
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : HTTP_ERRORS[code].means;
  return { status, body: { error: code, message }, headers };
}

/**
 * Answers every error of `app` (and of the plugins in it) from the catalogue, and unknown routes
 * with `not_found` naming the routes there are. Server errors are logged with their cause.
 */
export function answerErrors(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const answer = errorAnswer(err);
    if (answer.status >= 500) request.log.error({ err, url: request.url }, 'request failed');
    else
      request.log.debug({ err: (err as Error).message, url: request.url, status: answer.status }, 'refused');
    return reply.headers(answer.headers).code(answer.status).send(answer.body);
  });
  // the routes are fixed once the server listens: listed once, at the first unknown route
  let routes: string | undefined;
  app.setNotFoundHandler((request, reply) => {
    routes ??= [...new Set(app.printRoutes({ commonPrefix: false }).match(/\/[^\s(]*/g) ?? [])].join(', ');
    return reply.code(404).send({
      error: 'not_found',
      message: `no route ${request.method} ${JSON.stringify(request.url.split('?', 1)[0]!.slice(0, 200))}; this server has ${routes}`,
    });
  });
}
