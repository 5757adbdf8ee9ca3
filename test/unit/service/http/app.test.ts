/**
 * The HTTP API as built for the service (fastify inject, no listener): one error answer with codes
 * from the catalogue for everything, fastify's codes never shown, which keys each route takes, and
 * the OpenAPI document generated from the routes' schemas. ClickHouse is a closed port: a request
 * that gets as far as a query is answered internal_error, as it would be with the database down.
 */
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../../../ingest/metrics.ts';
import { Stage } from '../../../../ingest/pipeline/stage.ts';
import type { Intake } from '../../../../ingest/sources/http/intake.ts';
import { errorAnswer, HTTP_ERRORS, HttpError } from '../../../../platform/http/errors.ts';
import { createLogger } from '../../../../platform/log.ts';
import { loadConfig } from '../../../../service/config.ts';
import { buildHttpApi, type HttpApi } from '../../../../service/http/app.ts';

const EVENT_KEY = 'acme-event-key-0123456789';
const READ_KEY = 'acme-read-key-0123456789';

const stored: unknown[] = [];
const intake: Intake = {
  async accept(events) {
    stored.push(...events);
  },
};

let api: HttpApi;
beforeAll(async () => {
  const config = loadConfig({
    TOKENWATCH_API_KEYS: `acme:${EVENT_KEY}`,
    TOKENWATCH_READ_API_KEYS: `acme:${READ_KEY}`,
    TOKENWATCH_HTTP_BODY_LIMIT_BYTES: '2048',
    TOKENWATCH_HTTP_MAX_EVENT_LOOP_DELAY_MS: '0',
  });
  const metrics = createMetrics();
  const clickhouse = createClient({
    url: 'http://127.0.0.1:9',
    request_timeout: 200,
    log: { level: ClickHouseLogLevel.OFF },
  });
  api = await buildHttpApi({
    service: config.service,
    ingest: config.ingest,
    log: createLogger('silent'),
    stage: new Stage(config.ingest.limits, metrics),
    intake,
    metrics,
    checks: [],
    clickhouse,
    database: 'tokenwatch',
  });
  await api.app.ready();
});
afterAll(() => api.app.close());

const CODES = Object.keys(HTTP_ERRORS);
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('HTTP errors', () => {
  it('answers an unknown route not_found, naming the routes there are', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/v1/nope?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toBe('not_found');
    expect(res.json().message).toMatch(/^no route GET "\/v1\/nope"; this server has .*\/v1\/events/);
    expect(res.json().message).toContain('/openapi.json');
  });

  it('translates fastify’s own refusals to catalogue codes (never FST_ERR_*)', async () => {
    const cases = [
      // over the body limit
      {
        headers: { ...bearer(EVENT_KEY), 'content-type': 'application/x-ndjson' },
        payload: 'x'.repeat(4096),
      },
      // a content type the route does not read
      { headers: { ...bearer(EVENT_KEY), 'content-type': 'text/xml' }, payload: '<e/>' },
    ];
    const answers = await Promise.all(
      cases.map((c) => api.app.inject({ method: 'POST', url: '/v1/events', ...c })),
    );
    expect(answers.map((a) => [a.statusCode, a.json().error])).toEqual([
      [413, 'body_too_large'],
      [415, 'unsupported_media_type'],
    ]);
    const invalid = await api.app.inject({
      method: 'GET',
      url: '/v1/detections?limit=0',
      headers: bearer(READ_KEY),
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error).toBe('invalid_request');
    expect(invalid.json().message).toMatch(/limit/);
  });

  it('survives a broken gzip body on a request answered without reading it', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const res = await api.app.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { ...bearer(EVENT_KEY), 'content-type': 'text/xml', 'content-encoding': 'gzip' },
        payload: 'not gzip at all',
      });
      expect(res.statusCode).toBe(415);
      // The gunzip error surfaces on a later turn of the event loop.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('answers any request, however hostile, with a catalogue code and a message', async () => {
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS');
    const path = fc.oneof(
      fc.constantFrom('/v1/events', '/v1/detections', '/v1/revocations', '/metrics', '/readyz'),
      fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
    );
    const query = fc.oneof(
      fc.constant(''),
      fc.constantFrom('?limit=0', '?from=x', '?after=-1', '?tenant=other', '?limit=1&from=1&to=0'),
      fc.webQueryParameters().map((q) => `?${q}`),
    );
    const headers = fc.record(
      {
        authorization: fc.constantFrom(`Bearer ${EVENT_KEY}`, `Bearer ${READ_KEY}`, 'Bearer x', 'Basic Zm9v'),
        'content-type': fc.constantFrom(
          'application/x-ndjson',
          'application/json',
          'text/xml',
          'multipart/form-data',
        ),
        'content-encoding': fc.constantFrom('gzip', 'br', 'identity'),
      },
      { requiredKeys: [] },
    );
    const payload = fc.oneof(fc.string({ maxLength: 3000 }), fc.constant('['), fc.constant('{"type":"x"}'));
    await fc.assert(
      fc.asyncProperty(method, path, query, headers, payload, async (m, p, q, h, body) => {
        const res = await api.app.inject({
          method: m as 'GET',
          url: `${p}${q}`,
          headers: h,
          ...(m === 'GET' || m === 'OPTIONS' ? {} : { payload: body }),
        });
        if (res.statusCode < 400 || p === '/metrics') return;
        const answer = res.json();
        expect(CODES).toContain(answer.error);
        expect(res.statusCode).toBe(HTTP_ERRORS[answer.error as keyof typeof HTTP_ERRORS].status);
        expect(typeof answer.message).toBe('string');
        expect(res.body).not.toMatch(/FST_ERR/);
      }),
      { numRuns: 300 },
    );
  });

  it('maps anything thrown to its status and code, hiding the cause of server errors', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            statusCode: fc.oneof(fc.integer({ min: 100, max: 599 }), fc.constant(Number.NaN)),
            code: fc.oneof(
              fc.constantFrom(...CODES, 'FST_ERR_VALIDATION', 'FST_ERR_WHATEVER', 'ECONNRESET'),
              fc.string(),
            ),
            message: fc.string(),
          },
          { requiredKeys: [] },
        ),
        (thrown) => {
          const a = errorAnswer(Object.assign(new Error(String(thrown.message ?? '')), thrown));
          expect(CODES).toContain(a.body.error);
          expect(a.status).toBe(HTTP_ERRORS[a.body.error].status);
          if (a.status >= 500 && a.body.error !== 'unavailable')
            expect(a.body.message).toBe('internal error; see the service log');
        },
      ),
    );
    expect(errorAnswer(new HttpError('rate_limited', 'slow down', { 'retry-after': '2' }))).toEqual({
      status: 429,
      body: { error: 'rate_limited', message: 'slow down' },
      headers: { 'retry-after': '2' },
    });
    expect(errorAnswer(new TypeError('x is undefined')).body).toEqual({
      error: 'internal_error',
      message: 'internal error; see the service log',
    });
  });
});

describe('tenant authentication per route', () => {
  const call = (method: 'GET' | 'POST', url: string, key?: string) =>
    api.app.inject({
      method,
      url,
      headers: { ...(key === undefined ? {} : bearer(key)), 'content-type': 'application/x-ndjson' },
      ...(method === 'POST' ? { payload: '' } : {}),
    });

  it('takes event keys for events, read keys for detections, either for revocation notices', async () => {
    // (a known key that may pass gets past authentication: 200, or 403/400 from the route itself —
    // the tenant filter is checked before ClickHouse is asked)
    const cases: [string, 'GET' | 'POST', string, string | undefined, number][] = [
      ['events, event key', 'POST', '/v1/events', EVENT_KEY, 200],
      ['events, read key', 'POST', '/v1/events', READ_KEY, 401],
      ['events, no key', 'POST', '/v1/events', undefined, 401],
      ['detections, event key', 'GET', '/v1/detections', EVENT_KEY, 401],
      ['detections, read key, other tenant', 'GET', '/v1/detections?tenant=beta', READ_KEY, 403],
      ['revocations, event key, other tenant', 'GET', '/v1/revocations?tenant=beta', EVENT_KEY, 403],
      ['revocations, read key, other tenant', 'GET', '/v1/revocations?tenant=beta', READ_KEY, 403],
      ['revocations, unknown key', 'GET', '/v1/revocations', 'unknown-0123456789abcdef', 401],
    ];
    for (const [name, method, url, key, status] of cases) {
      const res = await call(method, url, key);
      expect([name, res.statusCode]).toEqual([name, status]);
      if (status === 401) {
        expect(res.headers['www-authenticate']).toBe('Bearer realm="tokenwatch"');
        expect(res.json().message).toMatch(/Authorization: Bearer <key> or X-Api-Key/);
      }
    }
    const revocations = await call('GET', '/v1/revocations', 'unknown-0123456789abcdef');
    expect(revocations.json().message).toContain('TOKENWATCH_READ_API_KEYS');
    expect(revocations.json().message).toContain('TOKENWATCH_API_KEYS');
    expect(revocations.headers['cache-control']).toBe('no-store');
  });
});

describe('GET /openapi.json', () => {
  it('describes every route with its answers, generated from the route schemas', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as {
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/healthz',
      '/metrics',
      '/readyz',
      '/v1/detections',
      '/v1/events',
      '/v1/revocations',
    ]);
    for (const [path, methods] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(methods))
        expect([path, method, Object.keys(op.responses)]).toEqual([
          path,
          method,
          expect.arrayContaining(['200']),
        ]);
    const detection = doc.paths['/v1/detections']!['get']!.responses['200'] as {
      content: Record<string, { schema: { properties: Record<string, unknown> } }>;
    };
    expect(Object.keys(detection.content['application/json']!.schema.properties)).toEqual([
      'from',
      'to',
      'truncated',
      'detections',
    ]);
  });
});
