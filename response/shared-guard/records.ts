/**
 * The records of the guard topic (pure): what instances write to share one blast-radius guard.
 * Internal to tokenwatch (not a contract others rely on): only tokenwatch's instances may write the
 * topic (a Kafka ACL), since a record can spend a tenant's budget or free a target.
 *
 *   claim    a detection asks to revoke a target; judged by the limits it carries (its maker's)
 *   release  its maker stopped waiting for that claim's verdict (and suppressed the finding)
 *   probe    an instance that could not reach the topic checks whether it answers again
 *
 * Every replica reads the same records in the same order and skips those it cannot read, alike.
 */
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

export const GUARD_RECORD_VERSION = 1;

const Id = Type.String({ minLength: 1, maxLength: 256 });
const Limit = Type.Integer({ minimum: 0, maximum: 1_000_000 });

const GuardRecordSchema = Type.Union([
  Type.Object({
    v: Type.Literal(GUARD_RECORD_VERSION),
    type: Type.Literal('claim'),
    claim_id: Id,
    instance: Id,
    tenant: Type.String({ maxLength: 256 }),
    revocation_id: Id,
    detection_id: Id,
    tenant_limit: Limit,
    total_limit: Limit,
    /** the maker's reserve per tenant (absent: 0, as instances before reserves judged) */
    tenant_reserve: Type.Optional(Limit),
    /** the maker's window, ms (absent: a minute) */
    window_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000 })),
  }),
  Type.Object({
    v: Type.Literal(GUARD_RECORD_VERSION),
    type: Type.Literal('release'),
    claim_id: Id,
    instance: Id,
    revocation_id: Id,
    detection_id: Id,
  }),
  Type.Object({
    v: Type.Literal(GUARD_RECORD_VERSION),
    type: Type.Literal('probe'),
    claim_id: Id,
    instance: Id,
  }),
]);

export type GuardRecord = Static<typeof GuardRecordSchema>;
export type ClaimRecord = Extract<GuardRecord, { type: 'claim' }>;

const check = TypeCompiler.Compile(GuardRecordSchema);

/** The message for a record: keyed by the target (claims, releases) or the instance (probes). */
export function encodeRecord(r: GuardRecord): { key: string; value: string } {
  return { key: r.type === 'probe' ? r.instance : r.revocation_id, value: JSON.stringify(r) };
}

/** A record read from the topic, or undefined when it is not one (skipped by every replica alike). */
export function parseRecord(value: Buffer | string | null | undefined): GuardRecord | undefined {
  if (value === null || value === undefined || value.length > 4096) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch {
    return undefined;
  }
  return check.Check(parsed) ? parsed : undefined;
}
