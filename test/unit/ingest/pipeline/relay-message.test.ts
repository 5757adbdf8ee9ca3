import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { relayMessage } from '../../../../ingest/pipeline/relay-message.ts';
import { reporterFromHeaders } from '../../../../ingest/pipeline/reporter-headers.ts';
import {
  type Reporter,
  toContractEvent,
  type ValidationOptions,
  validateEventText,
} from '../../../../ingest/pipeline/validate.ts';
import { expectOk } from '../../helpers.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const OPTS: ValidationOptions = { eventBytes: 16_384, maxEventAgeSeconds: 3600, maxFutureSkewSeconds: 300 };
const REPORTER: Reporter = { id: 'gw-1', role: '', door: 'http' };
const SECRET = 'a-relay-secret-of-at-least-32-characters';
/** What the HTTP door in Kafka mode validates with (its key's tenant and reporter, texts kept). */
const DOOR = { nowMs: NOW, tenant: 'acme', reporter: REPORTER, keepRelayText: true };

/** What a consumer of the events topic makes of a relayed message: its headers' reporter, no tenant of its own. */
function consumed(message: ReturnType<typeof relayMessage>) {
  const from = reporterFromHeaders(message.headers, message.value, SECRET);
  if (!from.ok) throw new Error(from.error.message);
  return validateEventText(message.value, OPTS, {
    nowMs: NOW + 1000,
    ...(from.reporter !== undefined ? { reporter: from.reporter } : {}),
  });
}

const event = fc.record(
  {
    event_id: fc.string({ minLength: 1, maxLength: 20 }),
    type: fc.constant('verification'),
    time: fc.oneof(
      fc.integer({ min: NOW - 3_000_000, max: NOW }),
      fc.integer({ min: NOW - 3_000_000, max: NOW }).map((t) => new Date(t).toISOString()),
      fc.constant('2026-03-01T12:59:30+01:00'),
    ),
    tenant: fc.constant('acme'),
    outcome: fc.constant('accepted'),
    reason: fc.constant('ok'),
    subject: fc.string({ unit: 'binary', maxLength: 20 }),
    ip: fc.constantFrom('2001:0DB8::0001', '::ffff:0102:0304', '8.8.8.8'),
    note: fc.jsonValue({ maxDepth: 2 }),
    custom: fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
  },
  { requiredKeys: ['event_id', 'type', 'time', 'outcome', 'reason'] },
);

describe('relaying an event as its own text', () => {
  it('is what a consumer validates to the very event the door accepted, as the contract form is', () => {
    fc.assert(
      fc.property(event, fc.boolean(), fc.constantFrom('', ' '), (e, withTenant, pad) => {
        const input = { ...e } as Record<string, unknown>;
        if (!withTenant) delete input['tenant'];
        const text = pad + JSON.stringify(input) + pad;
        const accepted = validateEventText(text, OPTS, DOOR);
        if (!accepted.ok) return;
        const asIs = relayMessage(accepted.event, SECRET, accepted.relayText);
        const contract = relayMessage(accepted.event, SECRET);
        expect(expectOk(consumed(asIs))).toStrictEqual(accepted.event);
        expect(expectOk(consumed(contract))).toStrictEqual(accepted.event);
      }),
      { numRuns: 500 },
    );
  });

  it('is kept only for a well-formed text without escapes or a byte-order mark that names its tenant', () => {
    const base = { event_id: 'e', type: 'verification', time: NOW, outcome: 'accepted', reason: 'ok' };
    const kept = (text: string, ctx: object = {}) => {
      const result = validateEventText(text, OPTS, { ...DOOR, ...ctx });
      expectOk(result);
      return result.ok ? result : undefined;
    };
    const named = JSON.stringify({ ...base, tenant: 'acme' });
    expect(kept(named)?.relayText).toBe(named);
    expect(kept(named, { keepRelayText: false })?.relayText).toBeUndefined();
    expect(kept(JSON.stringify(base))?.relayText).toBeUndefined();
    expect(kept(`\uFEFF${named}`)?.relayText).toBeUndefined();
    // any backslash-u, even an escaped backslash before a u: the contract form is written
    expect(kept(JSON.stringify({ ...base, tenant: 'acme', subject: '\\u0061' }))?.relayText).toBeUndefined();
    expect(kept(named.replace('"e"', '"\\u0065"'))?.relayText).toBeUndefined();
    expect(kept(named.replace('"e"', '"\uD800"'))?.relayText).toBeUndefined();
  });

  it('signs the text it sends: the consumer believes the reporter of the text, not of the contract form', () => {
    const text = JSON.stringify({
      event_id: 'e',
      type: 'verification',
      time: new Date(NOW).toISOString(),
      tenant: 'acme',
      outcome: 'accepted',
      reason: 'ok',
    });
    const accepted = expectOk(validateEventText(text, OPTS, DOOR));
    const message = relayMessage(accepted, SECRET, text);
    expect(message.value).toBe(text);
    expect(reporterFromHeaders(message.headers, JSON.stringify(toContractEvent(accepted)), SECRET).ok).toBe(
      false,
    );
    expect(reporterFromHeaders(message.headers, text, SECRET)).toEqual({
      ok: true,
      reporter: REPORTER,
      signed: true,
    });
  });
});
