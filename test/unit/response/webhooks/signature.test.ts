import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhookSignature } from '../../../../response/webhooks/signature.ts';

const secret = 'whsec_test_1';
const body = '{"version":"1","alerts":[]}';
const t = 1_760_000_000;

const reason = (result: ReturnType<typeof verifyWebhookSignature>): string =>
  result.ok ? 'ok' : result.reason;

describe('webhook signature', () => {
  it('is t=<seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
    expect(signWebhook(secret, body, t)).toBe(`t=${t},v1=${expected}`);
  });

  it('round-trips, from a string or the raw bytes', () => {
    const header = signWebhook(secret, body, t);
    expect(verifyWebhookSignature({ secret, header, body, nowS: t })).toEqual({ ok: true });
    expect(verifyWebhookSignature({ secret, header, body: Buffer.from(body), nowS: t + 299 })).toEqual({
      ok: true,
    });
  });

  it('fails when the body, the timestamp or the secret differ', () => {
    const header = signWebhook(secret, body, t);
    expect(reason(verifyWebhookSignature({ secret, header, body: `${body} `, nowS: t }))).toMatch(
      /^signature mismatch/,
    );
    const moved = header.replace(`t=${t}`, `t=${t + 1}`);
    expect(reason(verifyWebhookSignature({ secret, header: moved, body, nowS: t }))).toMatch(
      /^signature mismatch/,
    );
    expect(reason(verifyWebhookSignature({ secret: 'other', header, body, nowS: t }))).toMatch(
      /^signature mismatch/,
    );
  });

  it('fails outside the tolerance, either way, and says how far off', () => {
    const header = signWebhook(secret, body, t);
    expect(reason(verifyWebhookSignature({ secret, header, body, nowS: t + 301 }))).toMatch(
      /^timestamp outside tolerance: .*301 s ago \(tolerance 300 s\)/,
    );
    expect(reason(verifyWebhookSignature({ secret, header, body, nowS: t - 61, toleranceS: 60 }))).toMatch(
      /61 s ahead \(tolerance 60 s\)/,
    );
  });

  it('accepts any of several v1 entries (rotation), and a receiver holding both secrets', () => {
    const header = signWebhook(['new-secret', 'old-secret'], body, t);
    expect(header.match(/v1=/g)).toHaveLength(2);
    expect(verifyWebhookSignature({ secret: 'old-secret', header, body, nowS: t })).toEqual({ ok: true });
    expect(verifyWebhookSignature({ secret: 'new-secret', header, body, nowS: t })).toEqual({ ok: true });
    const single = signWebhook('old-secret', body, t);
    expect(
      verifyWebhookSignature({ secret: ['new-secret', 'old-secret'], header: single, body, nowS: t }),
    ).toEqual({
      ok: true,
    });
  });

  it('skips unknown schemes, so a later v2 entry does not break v1 receivers', () => {
    const header = `${signWebhook(secret, body, t)},v2=abc`;
    expect(verifyWebhookSignature({ secret, header, body, nowS: t })).toEqual({ ok: true });
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['no timestamp', `v1=${'a'.repeat(64)}`],
    ['no v1', `t=${t}`],
    ['timestamp not a number', `t=soon,v1=${'a'.repeat(64)}`],
    ['two timestamps', `t=${t},t=${t},v1=${'a'.repeat(64)}`],
    ['v1 not 64 hex digits', `t=${t},v1=xyz`],
    ['not key=value', `t=${t},v1`],
  ])('reports a malformed header (%s)', (_, header) => {
    expect(reason(verifyWebhookSignature({ secret, header, body, nowS: t }))).toMatch(
      /^malformed Tokenwatch-Signature header .*: expected t=<unix seconds>,v1=<64 hex digits>/,
    );
  });

  it('refuses to sign without a secret or with a fractional timestamp', () => {
    expect(() => signWebhook('', body, t)).toThrow(/empty secret/);
    expect(() => signWebhook(secret, body, 1.5)).toThrow(/timestamp 1.5 is not whole unix seconds/);
  });
});
