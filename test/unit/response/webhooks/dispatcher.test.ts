import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AddressGuard } from '../../../../platform/http/address-guard.ts';
import type { DeliveryRecord } from '../../../../response/webhooks/delivery.ts';
import {
  WebhookDispatcher,
  type WebhookDispatcherOptions,
} from '../../../../response/webhooks/dispatcher.ts';
import { verifyWebhookSignature } from '../../../../response/webhooks/signature.ts';
import { parseWebhookTargets, type WebhookTarget } from '../../../../response/webhooks/targets.ts';
import { alert, type ReceivedRequest, type Receiver, sleep, startReceiver, waitFor } from './helpers.ts';

const log = pino({ level: 'silent' });

let receiver: Receiver;
let dispatcher: WebhookDispatcher | undefined;
let records: DeliveryRecord[];

beforeEach(async () => {
  receiver = await startReceiver();
  records = [];
});

afterEach(async () => {
  await dispatcher?.close(1000);
  dispatcher = undefined;
  await receiver.close();
});

function target(over: Record<string, unknown> = {}): WebhookTarget {
  return parseWebhookTargets(
    [{ name: 'oncall', url: `${receiver.url}/hook`, format: 'generic', ...over }],
    'test',
  )[0]!;
}

/** A dispatcher with small windows and fast retries, recording every delivery attempt. */
function start(targets: WebhookTarget[], over: Partial<WebhookDispatcherOptions> = {}): WebhookDispatcher {
  dispatcher = new WebhookDispatcher({
    targets,
    groupWaitMs: 50,
    groupIntervalMs: 400,
    retry: { baseMs: 20, maxMs: 100, maxAttempts: 4 },
    timeoutMs: 2000,
    guard: new AddressGuard(),
    log,
    onDelivery: (d) => records.push(d),
    ...over,
  });
  return dispatcher;
}

const json = (r: ReceivedRequest | undefined) => JSON.parse(r?.body ?? 'null');

describe('WebhookDispatcher', () => {
  it('sends the alerts of one group as one signed message', async () => {
    const d = start([target({ secret: 'whsec_1' })]);
    for (let i = 0; i < 3; i++) d.send(alert({ title: `finding ${i}` }));
    await waitFor('one delivery', () => records.length === 1);
    await sleep(150);
    expect(receiver.received).toHaveLength(1);
    const [request] = receiver.received;
    expect(request?.path).toBe('/hook');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['user-agent']).toBe('tokenwatch');
    const body = json(request);
    expect(body.alerts.map((a: { title: string }) => a.title)).toEqual([
      'finding 0',
      'finding 1',
      'finding 2',
    ]);
    expect(body.delivery_id).toBe(request?.headers['tokenwatch-delivery']);
    expect(
      verifyWebhookSignature({
        secret: 'whsec_1',
        header: request?.headers['tokenwatch-signature'],
        body: request?.body ?? '',
      }),
    ).toEqual({ ok: true });
    expect(records).toEqual([
      expect.objectContaining({
        delivery_id: body.delivery_id,
        target: 'oncall',
        format: 'generic',
        group_key: alert().group_key,
        alerts: 3,
        attempt: 1,
        status: 'delivered',
        http_status: 200,
        error: '',
      }),
    ]);
  });

  it('sends no signature header without a secret, and adds the target headers', async () => {
    const d = start([target({ headers: { Authorization: 'Bearer t0ken' } })]);
    d.send(alert());
    await waitFor('one delivery', () => receiver.received.length === 1);
    expect(receiver.received[0]?.headers['tokenwatch-signature']).toBeUndefined();
    expect(receiver.received[0]?.headers.authorization).toBe('Bearer t0ken');
  });

  it('holds alerts for a group sent within the interval and sends them together afterwards', async () => {
    const d = start([target()]);
    const firstSentAt = Date.now();
    d.send(alert({ title: 'first' }));
    d.send(alert({ group_key: 'other', title: 'other group' }));
    await waitFor('the first messages', () => receiver.received.length === 2);
    d.send(alert({ title: 'follow-up 1' }));
    await sleep(100);
    d.send(alert({ title: 'follow-up 2' }));
    await waitFor('the follow-up', () => receiver.received.length === 3);
    const followUp = receiver.received[2]!;
    expect(json(followUp).alerts.map((a: { title: string }) => a.title)).toEqual([
      'follow-up 1',
      'follow-up 2',
    ]);
    // the interval (400 ms) after the first flush, less the quarter of the group wait a flush may
    // take early — counted from the first send (a receipt time is late on a busy machine)
    expect(followUp.atMs - firstSentAt).toBeGreaterThanOrEqual(380);
  });

  it('folds 500 groups due at once into one storm summary', async () => {
    // a group wait longer than the 500 sends take on a busy machine: all come due in one flush
    const d = start([target()], { maxGroupsPerFlush: 20, groupWaitMs: 500 });
    for (let i = 0; i < 500; i++) {
      d.send(alert({ group_key: `acme/user-${i}`, subject: `user-${i}`, title: `replay ${i}` }));
    }
    await waitFor('the summary', () => records.length === 1);
    await sleep(200);
    expect(receiver.received).toHaveLength(1);
    const body = json(receiver.received[0]);
    expect(body.group_key).toBe('tokenwatch:storm');
    expect(body.storm).toMatchObject({
      title: 'Alert storm: 500 incidents in 500 groups',
      groups: 500,
      alerts: 500,
      by_tenant: { acme: 500 },
    });
    expect(body.alerts).toHaveLength(5);
    expect(body.omitted).toBe(495);
    expect(records[0]).toMatchObject({ alerts: 500, status: 'delivered' });
  });

  it('never folds a page of the response stage (guard tripped) into a storm', async () => {
    // as above: all 100 groups come due in one flush, however long the sends take
    const d = start([target()], { maxGroupsPerFlush: 20, groupWaitMs: 500 });
    for (let i = 0; i < 100; i++) d.send(alert({ group_key: `acme/user-${i}`, subject: `user-${i}` }));
    d.send(
      alert({ kind: 'guard_tripped', group_key: 'guard', subject: '', detector: '', title: 'guard tripped' }),
    );
    await waitFor('the summary and the page', () => records.length === 2);
    await sleep(200);
    expect(receiver.received).toHaveLength(2);
    const bodies = receiver.received.map((r) => json(r));
    expect(bodies.find((b) => b.group_key === 'guard').alerts[0].title).toBe('guard tripped');
    expect(bodies.find((b) => b.group_key === 'tokenwatch:storm').storm.groups).toBe(100);
  });

  it('retries 503 with backoff and the same delivery id until delivered', async () => {
    receiver.answer = (_, n) => (n < 2 ? { status: 503, body: 'busy' } : { status: 200 });
    const d = start([target({ secret: 's' })]);
    d.send(alert());
    await waitFor('delivered', () => records.some((r) => r.status === 'delivered'));
    expect(records.map((r) => [r.attempt, r.status, r.http_status])).toEqual([
      [1, 'retrying', 503],
      [2, 'retrying', 503],
      [3, 'delivered', 200],
    ]);
    expect(records[0]?.error).toBe('HTTP 503: busy');
    const ids = receiver.received.map((r) => r.headers['tokenwatch-delivery']);
    expect(new Set(ids).size).toBe(1);
    expect(ids).toHaveLength(3);
    expect(records.every((r) => r.delivery_id === ids[0])).toBe(true);
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
  });

  it('caps Retry-After at the longest backoff delay', async () => {
    receiver.answer = (_, n) =>
      n === 0 ? { status: 429, headers: { 'retry-after': '3600' } } : { status: 200 };
    const d = start([target()]);
    d.send(alert());
    await waitFor('delivered', () => records.some((r) => r.status === 'delivered'), 3000);
    const [first, second] = receiver.received;
    expect(second!.atMs - first!.atMs).toBeLessThan(1000);
  });

  it('gives up after the last attempt', async () => {
    receiver.answer = () => ({ status: 500 });
    const d = start([target()]);
    d.send(alert());
    await waitFor('failed', () => records.some((r) => r.status === 'failed'));
    expect(records.map((r) => r.status)).toEqual(['retrying', 'retrying', 'retrying', 'failed']);
    expect(records[3]?.error).toBe('HTTP 500 (gave up after 4 attempts)');
  });

  it('fails a 400 at once, without retrying', async () => {
    receiver.answer = () => ({ status: 400, body: 'invalid_payload' });
    const d = start([target()]);
    d.send(alert());
    await waitFor('failed', () => records.length === 1);
    await sleep(300);
    expect(receiver.received).toHaveLength(1);
    expect(records).toEqual([expect.objectContaining({ attempt: 1, status: 'failed', http_status: 400 })]);
    expect(records[0]?.error).toMatch(/^HTTP 400: invalid_payload; the receiver refused the request/);
  });

  it('retries when nothing listens, without putting the URL path in the error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const d = start([target({ url: `http://127.0.0.1:${port}/services/T000/B000/SECRETTOKEN` })], {
      retry: { baseMs: 10, maxMs: 20, maxAttempts: 2 },
    });
    d.send(alert());
    await waitFor('failed', () => records.some((r) => r.status === 'failed'));
    expect(records.map((r) => [r.status, r.http_status])).toEqual([
      ['retrying', 0],
      ['failed', 0],
    ]);
    expect(records[0]?.error).toMatch(/ECONNREFUSED/);
    expect(records.some((r) => r.error.includes('SECRETTOKEN'))).toBe(false);
  });

  it('refuses a metadata address at once, without connecting', async () => {
    const d = start([target({ url: 'http://169.254.169.254/latest/meta-data/' }), target({ name: 'ok' })]);
    d.send(alert());
    await waitFor('both outcomes', () => records.length === 2);
    await sleep(200);
    const refused = records.find((r) => r.target === 'oncall');
    expect(refused).toMatchObject({ attempt: 1, status: 'failed', http_status: 0, latency_ms: 0 });
    expect(refused?.error).toMatch(/address 169\.254\.169\.254 is link-local or a cloud metadata address/);
    expect(records.filter((r) => r.target === 'oncall')).toHaveLength(1);
    expect(receiver.received).toHaveLength(1);
  });

  it('sends each target only the alerts it wants, in its format', async () => {
    const d = start([
      target({ name: 'high', url: `${receiver.url}/high`, minSeverity: 'high' }),
      target({
        name: 'travel',
        url: `${receiver.url}/am`,
        format: 'alertmanager',
        detectors: ['impossible_travel'],
      }),
    ]);
    d.send(
      alert({ group_key: 'g1', severity: 'medium', detector: 'impossible_travel', title: 'medium travel' }),
    );
    d.send(
      alert({ group_key: 'g2', severity: 'critical', detector: 'refresh_replay', title: 'critical replay' }),
    );
    await waitFor('two deliveries', () => records.length === 2);
    await sleep(150);
    const byPath = Object.fromEntries(receiver.received.map((r) => [r.path, json(r)]));
    expect(Object.keys(byPath).sort()).toEqual(['/am', '/high']);
    expect(byPath['/high'].alerts.map((a: { title: string }) => a.title)).toEqual(['critical replay']);
    expect(byPath['/am']).toEqual([
      expect.objectContaining({ annotations: expect.objectContaining({ summary: 'medium travel' }) }),
    ]);
  });

  it('flushes pending groups on close, waits for their retries, and ignores later alerts', async () => {
    receiver.answer = (_, n) => (n === 0 ? { status: 503 } : { status: 200 });
    const d = start([target()], { groupWaitMs: 60_000 });
    d.send(alert());
    await sleep(50);
    expect(receiver.received).toHaveLength(0);
    await d.close(5000);
    expect(records.map((r) => r.status)).toEqual(['retrying', 'delivered']);
    d.send(alert({ group_key: 'late' }));
    await sleep(100);
    expect(receiver.received).toHaveLength(2);
  });

  it('stops retrying when close times out', async () => {
    receiver.answer = () => ({ status: 503 });
    const d = start([target()], { retry: { baseMs: 10_000, maxMs: 10_000, maxAttempts: 8 } });
    d.send(alert());
    await waitFor('the first attempt', () => records.length === 1);
    const started = Date.now();
    await d.close(100);
    expect(Date.now() - started).toBeLessThan(1000);
    await waitFor('the last attempt', () => records.length === 2);
    expect(records[1]).toMatchObject({ attempt: 2, status: 'failed' });
    expect(records[1]?.error).toBe('HTTP 503 (gave up after 2 attempts: the dispatcher was closed)');
  });
});
