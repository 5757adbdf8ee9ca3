/**
 * Delivery of one message to one target: render, sign, POST, and retry what may succeed later
 * (408, 429, 5xx, timeouts, network errors) with exponential backoff or the receiver's
 * `Retry-After`, up to a number of attempts. Every attempt is reported as a `DeliveryRecord`.
 * A refused address (the SSRF guard), a redirect and any other 4xx fail at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { type BackoffPolicy, backoffMs, retryAfterMs } from '../../platform/backoff.ts';
import type { AddressGuard } from '../../platform/http/address-guard.ts';
import { HttpRequestError, type HttpResponse, post } from '../../platform/http/client.ts';
import { renderBody, type WebhookFormat, type WebhookMessage } from './formats.ts';
import { SIGNATURE_HEADER, signWebhook } from './signature.ts';
import type { WebhookTarget } from './targets.ts';

export const DELIVERY_HEADER = 'Tokenwatch-Delivery';

export interface RetryPolicy extends BackoffPolicy {
  /** attempts in all, the first included */
  maxAttempts: number;
}

/** One attempt to deliver one message, as the caller stores it. */
export interface DeliveryRecord {
  delivery_id: string;
  /** the target's name */
  target: string;
  format: WebhookFormat;
  group_key: string;
  /** alerts the message stands for (carried and counted) */
  alerts: number;
  /** 1 for the first attempt */
  attempt: number;
  status: 'delivered' | 'retrying' | 'failed';
  /** 0 when no HTTP answer came */
  http_status: number;
  latency_ms: number;
  /** '' when delivered */
  error: string;
  /** when the attempt started */
  time_ms: number;
}

export interface DeliveryOptions {
  timeoutMs: number;
  retry: RetryPolicy;
  guard: AddressGuard;
  log: Logger;
  onDelivery: (record: DeliveryRecord) => void;
  /** aborted when the dispatcher gives up waiting: a delivery between attempts then fails */
  signal: AbortSignal;
}

type Outcome =
  | { kind: 'delivered'; status: number; latencyMs: number }
  | { kind: 'retry' | 'fail'; status: number; latencyMs: number; error: string; retryAfterMs?: number };

/** Delivers `message` to `target`, retrying as the policy allows; resolves with the last record. */
export async function deliver(
  target: WebhookTarget,
  message: WebhookMessage,
  options: DeliveryOptions,
): Promise<DeliveryRecord> {
  const url = new URL(target.url);
  const body = renderBody(target.format, message);
  const secrets = [target.secret, target.previousSecret].filter((s) => s !== '');
  const alerts = message.alerts.length + message.omitted;
  for (let attempt = 1; ; attempt++) {
    const timeMs = Date.now();
    const headers: Record<string, string> = {
      'user-agent': 'tokenwatch',
      ...target.headers,
      'content-type': 'application/json',
      [DELIVERY_HEADER]: message.delivery_id,
    };
    // signed per attempt: a retry minutes later must not carry a timestamp outside the tolerance
    if (secrets.length > 0) headers[SIGNATURE_HEADER] = signWebhook(secrets, body, Math.floor(timeMs / 1000));
    const outcome = await attemptOnce(url, body, headers, options);
    const closed = options.signal.aborted;
    const gaveUp = outcome.kind === 'retry' && (attempt >= options.retry.maxAttempts || closed);
    const plural = attempt > 1 ? 's' : '';
    const status =
      outcome.kind === 'delivered'
        ? 'delivered'
        : outcome.kind === 'retry' && !gaveUp
          ? 'retrying'
          : 'failed';
    const error =
      outcome.kind === 'delivered'
        ? ''
        : gaveUp
          ? `${outcome.error} (gave up after ${attempt} attempt${plural}${closed ? ': the dispatcher was closed' : ''})`
          : outcome.error;
    const record: DeliveryRecord = {
      delivery_id: message.delivery_id,
      target: target.name,
      format: target.format,
      group_key: message.group_key,
      alerts,
      attempt,
      status,
      http_status: outcome.status,
      latency_ms: outcome.latencyMs,
      error,
      time_ms: timeMs,
    };
    report(record, options);
    if (outcome.kind !== 'retry' || gaveUp) return record;
    const delayMs = Math.min(options.retry.maxMs, outcome.retryAfterMs ?? backoffMs(options.retry, attempt));
    try {
      await sleep(delayMs, undefined, { ref: false, signal: options.signal });
    } catch {
      // closed while waiting: the next attempt is the last (it reports `failed` unless it succeeds)
    }
  }
}

async function attemptOnce(
  url: URL,
  body: string,
  headers: Record<string, string>,
  options: DeliveryOptions,
): Promise<Outcome> {
  let response: HttpResponse;
  try {
    response = await post(url, body, { headers, timeoutMs: options.timeoutMs, guard: options.guard });
  } catch (err) {
    if (!(err instanceof HttpRequestError)) throw err;
    const error = redact(err.message, url);
    if (err.code === 'ERR_TOKENWATCH_HTTP_REFUSED_ADDRESS') {
      return { kind: 'fail', status: 0, latencyMs: err.latencyMs, error };
    }
    return { kind: 'retry', status: 0, latencyMs: err.latencyMs, error };
  }
  const { status, latencyMs } = response;
  if (status >= 200 && status < 300) return { kind: 'delivered', status, latencyMs };
  const answer = `HTTP ${status}${response.body.trim() === '' ? '' : `: ${clip(response.body.trim())}`}`;
  if (status === 408 || status === 429 || status >= 500) {
    const header = response.headers['retry-after'];
    const after = retryAfterMs(Array.isArray(header) ? header[0] : header, Date.now());
    return {
      kind: 'retry',
      status,
      latencyMs,
      error: answer,
      ...(after !== undefined ? { retryAfterMs: after } : {}),
    };
  }
  const hint =
    status >= 300 && status < 400
      ? '; redirects are not followed: configure the final URL'
      : '; the receiver refused the request, so it is not retried: check the URL, headers and secret';
  return { kind: 'fail', status, latencyMs, error: `${answer}${hint}` };
}

/** Hands the record to the caller (a throwing callback must not stop deliveries) and logs it. */
function report(record: DeliveryRecord, options: DeliveryOptions): void {
  try {
    options.onDelivery(record);
  } catch (err) {
    options.log.error({ err, delivery_id: record.delivery_id }, 'webhook onDelivery callback threw');
  }
  if (record.status === 'delivered') options.log.debug(record, 'webhook delivered');
  else if (record.status === 'retrying') options.log.warn(record, 'webhook delivery failed, retrying');
  else options.log.error(record, 'webhook delivery failed');
}

/** Webhook URL paths often hold a token (Slack's do): error texts keep only the origin. */
function redact(message: string, url: URL): string {
  return url.pathname.length > 1 ? message.split(url.pathname).join('/…') : message;
}

const clip = (text: string): string => (text.length <= 200 ? text : `${text.slice(0, 199)}…`);
