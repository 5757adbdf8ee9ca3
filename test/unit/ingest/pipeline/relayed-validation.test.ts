/**
 * The Kafka door's trust in what tokenwatch's relay signed: a message whose value carries a valid
 * relay signature is validated for what the relaying door cannot vouch for only, and is stored as the
 * door normalized it; a forged, unsigned or tampered message still goes through full validation or is
 * refused (dead-lettered).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../../ingest/metrics.ts';
import { type KafkaTrust, kafkaOrigin } from '../../../../ingest/pipeline/kafka-origin.ts';
import { relayMessage } from '../../../../ingest/pipeline/relay-message.ts';
import {
  REPORTER_ID_HEADER,
  REPORTER_ROLE_HEADER,
  REPORTER_SIG_HEADER,
  reporterHeaders,
} from '../../../../ingest/pipeline/reporter-headers.ts';
import { Stage } from '../../../../ingest/pipeline/stage.ts';
import {
  type Reporter,
  type ValidationResult,
  validateEventText,
  validateRelayedText,
} from '../../../../ingest/pipeline/validate.ts';
import { expectOk, JWT, TEST_LIMITS } from '../../helpers.ts';

const NOW = Date.now();
const LIMITS = TEST_LIMITS;
const OPTS = {
  eventBytes: LIMITS.eventBytes,
  maxEventAgeSeconds: LIMITS.maxEventAgeSeconds,
  maxFutureSkewSeconds: LIMITS.maxFutureSkewSeconds,
  maxDepth: LIMITS.eventMaxDepth,
};
const SECRET = 'a-relay-secret-of-at-least-32-characters';
const TOPIC = 'tokenwatch.events';
const TRUST: KafkaTrust = { bindings: new Map(), relaySecret: SECRET };
const stage = new Stage(LIMITS, createMetrics());

/** What the Kafka door makes of a message: its origin (refused before reading it), else its validation. */
function consumed(
  message: { value: string; headers?: Record<string, string> },
  trust: KafkaTrust = TRUST,
  nowMs = NOW + 1000,
): ValidationResult & { signed?: boolean } {
  const from = kafkaOrigin(
    TOPIC,
    { value: Buffer.from(message.value, 'utf8'), headers: message.headers },
    trust,
  );
  if (!from.ok) return from;
  const result = stage.validateText(message.value, { nowMs, ...from.ctx });
  return { ...result, signed: from.ctx.signedRelay === true };
}

const withoutSigned = (r: ValidationResult & { signed?: boolean }): ValidationResult => {
  const { signed: _, ...rest } = r;
  return rest as ValidationResult;
};

const ips = fc.constantFrom('2001:0DB8::0001', '::ffff:0102:0304', '8.8.8.8', '2a00:1450:4001:82b::200e');
const times = fc.oneof(
  fc.integer({ min: NOW - 3_000_000, max: NOW }),
  fc.integer({ min: NOW - 3_000_000, max: NOW }).map((t) => new Date(t).toISOString()),
);
const common = {
  event_id: fc.string({ minLength: 1, maxLength: 20 }),
  time: times,
  tenant: fc.constant('acme'),
  subject: fc.string({ unit: 'binary', maxLength: 20 }),
  source: fc.string({ maxLength: 10 }),
  ip: ips,
  device_id: fc.string({ maxLength: 10 }),
  note: fc.jsonValue({ maxDepth: 2 }),
  custom: fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
};
/** Events the HTTP door accepts (most of them): verifications and refreshes, with fields it does not know. */
const event = fc.oneof(
  fc.record(
    {
      ...common,
      type: fc.constant('verification'),
      outcome: fc.constant('accepted'),
      reason: fc.constant('ok'),
    },
    { requiredKeys: ['event_id', 'type', 'time', 'outcome', 'reason'] },
  ),
  fc.record(
    {
      ...common,
      type: fc.constant('refresh'),
      outcome: fc.constant('rotated'),
      reason: fc.constant('ok'),
      family_id: fc.string({ minLength: 1, maxLength: 10 }),
      token_id: fc.string({ minLength: 1, maxLength: 10 }),
      new_token_id: fc.string({ minLength: 1, maxLength: 10 }),
    },
    { requiredKeys: ['event_id', 'type', 'time', 'outcome', 'reason', 'family_id', 'token_id'] },
  ),
);
const reporter = fc.record({
  id: fc.string({ minLength: 1, maxLength: 20 }),
  role: fc.constantFrom('' as const, 'auth-server' as const),
  door: fc.constantFrom('http' as const, 'kafka' as const),
});

describe('a message the relay signed', () => {
  it('is stored as the door normalized it, relayed as its own text or its contract form', () => {
    fc.assert(
      fc.property(event, reporter, fc.boolean(), (e, r: Reporter, withTenant) => {
        const input = { ...e } as Record<string, unknown>;
        if (!withTenant) delete input['tenant'];
        const door = { nowMs: NOW, tenant: 'acme', reporter: { ...r }, keepRelayText: true };
        const result = stage.validateText(JSON.stringify(input), door);
        const accepted = expectOk(result);
        for (const message of [
          relayMessage(accepted, SECRET, result.ok ? result.relayText : undefined),
          relayMessage(accepted, SECRET),
        ]) {
          const back = consumed(message);
          expect(back.signed).toBe(true);
          expect(expectOk(withoutSigned(back))).toStrictEqual(accepted);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('is refused when its value or its headers were changed after signing', () => {
    fc.assert(
      fc.property(event, reporter, fc.string({ minLength: 1, maxLength: 40 }), (e, r: Reporter, junk) => {
        const door = { nowMs: NOW, tenant: 'acme', reporter: r };
        const message = relayMessage(expectOk(stage.validateText(JSON.stringify(e), door)), SECRET);
        const tampered = [
          { ...message, value: message.value + junk },
          { ...message, value: junk + message.value },
          { ...message, value: message.value.replace('"acme"', '"other"') },
          { ...message, headers: { ...message.headers, [REPORTER_ID_HEADER]: `${r.id}${junk}` } },
          { ...message, headers: { ...message.headers, [REPORTER_ROLE_HEADER]: 'verifier' } },
        ];
        for (const m of tampered) {
          const back = consumed(m as { value: string; headers: Record<string, string> });
          expect(back.ok).toBe(false);
          if (!back.ok) expect(back.error.code).toBe('unverified_reporter');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('is still held to this instance: its size limit and its time window now', () => {
    const r: Reporter = { id: 'acme:gw', role: '', door: 'http' };
    const signed = (value: string) => ({ value, headers: reporterHeaders(r, value, SECRET) });
    const e = {
      event_id: 'e1',
      type: 'verification',
      time: NOW,
      tenant: 'acme',
      outcome: 'accepted',
      reason: 'ok',
    };
    const late = consumed(signed(JSON.stringify(e)), TRUST, NOW + 2 * 3600_000);
    expect(late.ok ? undefined : late.error.code).toBe('time_out_of_range');
    const big = consumed(signed(JSON.stringify({ ...e, note: 'x'.repeat(20_000) })));
    expect(big.ok ? undefined : big.error.code).toBe('oversized');
  });

  it('whatever the holder of the secret signed: never laxer than full validation on what makes the row', () => {
    const r: Reporter = { id: 'acme:gw', role: 'verifier', door: 'http' };
    const hostile = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc
        .record({
          event_id: fc.oneof(fc.string(), fc.integer()),
          type: fc.constantFrom('verification', 'refresh', 'nonsense', 7),
          time: fc.oneof(times, fc.constantFrom('2026-02-30T00:00:00Z', 'yesterday', -1, NOW + 10_000_000)),
          tenant: fc.oneof(fc.constant('acme'), fc.integer()),
          ip: fc.oneof(ips, fc.constantFrom('', '999.1.1.1', 'not an ip', 5)),
          token: fc.constant(JWT),
        })
        .map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(hostile, (text) => {
        const ctx = { nowMs: NOW, reporter: r, signedRelay: true };
        const fast = validateRelayedText(text, OPTS, ctx);
        const full = validateEventText(text, OPTS, ctx);
        if (full.ok) expect(fast).toStrictEqual(full);
        if (!fast.ok) return;
        // accepted: the facts the row is made of are this instance's own reading of them
        expect(['verification']).toContain(fast.event.type); // the verifier role's types only
        expect(fast.event.time).toBeGreaterThanOrEqual(NOW - 3600_000);
        expect(fast.event.time).toBeLessThanOrEqual(NOW + 300_000);
        expect(typeof fast.event.tenant).toBe('string');
        expect(typeof fast.event.event_id).toBe('string');
        expect(fast.event.ip === '' || /^[0-9a-f.:]+$/.test(fast.event.ip)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('a message the relay did not sign', () => {
  it('goes through full validation: no headers, or believed headers without a relay secret', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 80 }),
          event.map((e) => JSON.stringify({ ...e, token: JWT })),
        ),
        (text) => {
          const full = validateEventText(text, OPTS, { nowMs: NOW + 1000 });
          const legacy = consumed({ value: text });
          expect(legacy.signed).toBe(false);
          expect(withoutSigned(legacy)).toStrictEqual(full);
          const open: KafkaTrust = { bindings: new Map(), relaySecret: '' };
          const headers = { [REPORTER_ID_HEADER]: 'acme:x' };
          const believed = consumed({ value: text, headers }, open);
          expect(believed.signed).toBe(false);
          expect(withoutSigned(believed)).toStrictEqual(
            validateEventText(text, OPTS, {
              nowMs: NOW + 1000,
              reporter: { id: 'acme:x', role: '', door: 'http' },
            }),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is refused when it names a reporter with a forged signature', () => {
    fc.assert(
      fc.property(event, fc.stringMatching(/^[A-Za-z0-9_-]{43}$/), (e, sig) => {
        const value = JSON.stringify(e);
        const back = consumed({
          value,
          headers: {
            [REPORTER_ID_HEADER]: 'acme:x',
            [REPORTER_ROLE_HEADER]: 'auth-server',
            [REPORTER_SIG_HEADER]: sig,
          },
        });
        expect(back.ok ? undefined : back.error.code).toBe('unverified_reporter');
      }),
      { numRuns: 200 },
    );
  });
});
