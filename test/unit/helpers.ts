/** Shared fixtures for the unit tests (no I/O). */
import type { EventError, NormalizedEvent, ValidationResult } from '../../ingest/pipeline/validate.ts';
import type { IngestSettings } from '../../ingest/settings.ts';

/** The ingest limits the unit tests build a Stage with (the defaults' sizes, a 1 MiB HTTP body). */
export const TEST_LIMITS: IngestSettings['limits'] = {
  httpBodyBytes: 1 << 20,
  httpAckTimeoutMs: 1000,
  eventBytes: 16_384,
  eventMaxDepth: 32,
  maxEventAgeSeconds: 3600,
  maxFutureSkewSeconds: 300,
  deadLetterPayloadBytes: 1024,
};

/** The jwt.io example token (HS256): a real compact JWS. */
export const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.' +
  'eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.' +
  'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

/** The event of a successful validation; fails the test with the error otherwise. */
export function expectOk(result: ValidationResult): NormalizedEvent {
  if (!result.ok) throw new Error(`expected a valid event, got ${JSON.stringify(result.error)}`);
  return result.event;
}

/** The error of a failed validation; fails the test when the event was accepted. */
export function expectError(result: ValidationResult): EventError {
  if (result.ok) throw new Error(`expected a rejection, got ${JSON.stringify(result.event)}`);
  return result.error;
}
