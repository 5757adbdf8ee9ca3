/**
 * The webhook signature: `Tokenwatch-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` where the
 * HMAC key is the target's secret and the signed text is `<t>.<raw body>`. Several `v1=` entries
 * may be present (one per secret while a secret is being rotated); a receiver accepts the request
 * when any of them matches. The timestamp bounds replays: receivers refuse it outside a tolerance.
 *
 * This file is the verify helper receivers use; it depends on node:crypto only, so it can be
 * copied into a receiver as is.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Name of the header that carries the signature. */
export const SIGNATURE_HEADER = 'Tokenwatch-Signature';

const DEFAULT_TOLERANCE_S = 300;

function hmac(secret: string, timestampS: number, body: string | Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`${timestampS}.`).update(body).digest();
}

/**
 * The `Tokenwatch-Signature` header value for `body` sent at `timestampS` (unix seconds): one
 * `v1=` entry per secret (pass the new and the old secret while rotating).
 */
export function signWebhook(
  secret: string | readonly string[],
  body: string | Uint8Array,
  timestampS: number,
): string {
  if (!Number.isSafeInteger(timestampS) || timestampS < 0) {
    throw new Error(
      `signWebhook: timestamp ${timestampS} is not whole unix seconds; pass Math.floor(ms / 1000)`,
    );
  }
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0 || secrets.some((s) => s === '')) {
    throw new Error('signWebhook: an empty secret signs nothing; pass the target secret');
  }
  return [`t=${timestampS}`, ...secrets.map((s) => `v1=${hmac(s, timestampS, body).toString('hex')}`)].join(
    ',',
  );
}

export interface VerifyWebhookOptions {
  /** the shared secret; several while the receiver accepts an old and a new one */
  secret: string | readonly string[];
  /** the `Tokenwatch-Signature` header as received (undefined when absent) */
  header: string | string[] | undefined;
  /** the raw request body, exactly as received (not re-serialized JSON) */
  body: string | Uint8Array;
  /** how far the signed time may be from now (seconds); default 300 */
  toleranceS?: number;
  /** the current time (unix seconds); default the clock */
  nowS?: number;
}

export type VerifyWebhookResult = { ok: true } | { ok: false; reason: string };

/** Checks a `Tokenwatch-Signature` header against the raw body; never throws for bad input. */
export function verifyWebhookSignature(options: VerifyWebhookOptions): VerifyWebhookResult {
  const header = Array.isArray(options.header) ? options.header.join(',') : options.header;
  const parsed = header === undefined ? undefined : parseHeader(header);
  if (parsed === undefined) {
    return {
      ok: false,
      reason:
        `malformed ${SIGNATURE_HEADER} header ${JSON.stringify(header ?? null)}: ` +
        'expected t=<unix seconds>,v1=<64 hex digits>[,v1=…]',
    };
  }
  const secrets = typeof options.secret === 'string' ? [options.secret] : options.secret;
  let matched = false;
  for (const secret of secrets) {
    if (secret === '') continue;
    const expected = hmac(secret, parsed.t, options.body);
    // every entry is compared, in constant time, so timing does not tell which part differed
    for (const candidate of parsed.v1) matched = timingSafeEqual(expected, candidate) || matched;
  }
  if (!matched) {
    return {
      ok: false,
      reason:
        'signature mismatch: no v1 entry is the HMAC-SHA256 of "<t>.<body>" under the secret; ' +
        'check the secret and that the body is verified byte for byte as received',
    };
  }
  const toleranceS = options.toleranceS ?? DEFAULT_TOLERANCE_S;
  const nowS = options.nowS ?? Math.floor(Date.now() / 1000);
  const skewS = nowS - parsed.t;
  if (Math.abs(skewS) > toleranceS) {
    return {
      ok: false,
      reason:
        `timestamp outside tolerance: signed at ${parsed.t}, ${Math.abs(skewS)} s ` +
        `${skewS > 0 ? 'ago' : 'ahead'} (tolerance ${toleranceS} s); ` +
        'a replayed delivery, or the clocks of sender and receiver differ',
    };
  }
  return { ok: true };
}

/** `t=…,v1=…[,v1=…]`; unknown keys (later schemes) are skipped. Undefined when malformed. */
function parseHeader(header: string): { t: number; v1: Buffer[] } | undefined {
  let t: number | undefined;
  const v1: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (t !== undefined || !/^\d{1,15}$/.test(value)) return undefined;
      t = Number(value);
    } else if (key === 'v1') {
      if (!/^[0-9a-fA-F]{64}$/.test(value)) return undefined;
      v1.push(Buffer.from(value, 'hex'));
    }
  }
  return t === undefined || v1.length === 0 ? undefined : { t, v1 };
}
