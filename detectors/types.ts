/**
 * What detectors see and what they say. A detector is a function of (keyed state, event,
 * thresholds) → findings that updates the state it is handed: no I/O, no clock but the events'
 * own times, no randomness. The runtime around them owns the state (per tenant + subject and per
 * source IP), stores the findings and acts on them.
 */
import type { EventType } from '../contract/event-v1.ts';
import type { EventRow } from '../ingest/pipeline/rows.ts';

/** The fields of a stored event (an `events` row) that detectors read, besides its type. */
export const DETECTOR_FIELDS = [
  'event_id',
  'time_ms',
  'tenant',
  'subject',
  'source',
  'client_id',
  'session_id',
  'ip',
  'user_agent',
  'device_id',
  'outcome',
  'reason',
  'jti',
  'alg',
  'exp',
  'family_id',
  'token_id',
  'new_token_id',
  'access_jti',
  'country',
  'city',
  'lat',
  'lon',
  'geo_radius_km',
  'asn',
  'as_org',
  'network_kind',
  'reporter_id',
  'reporter_role',
  'bound_key_thumbprint',
  'proof_key_thumbprint',
  'device_id_source',
] as const satisfies readonly (keyof EventRow)[];

/** Fields a detector input may lack (fixtures, rows stored before key binding was recorded): '' when absent. */
type OptionalField = 'bound_key_thumbprint' | 'proof_key_thumbprint' | 'device_id_source';

export type DetectorEvent = Omit<Pick<EventRow, (typeof DETECTOR_FIELDS)[number]>, OptionalField> &
  Partial<Pick<EventRow, OptionalField>> & {
    type: EventType;
    /** `type/outcome/reason`, when the runtime has interned it (saves a string per remembered event) */
    what?: string;
  };

import type { ACTIONS, TARGET_KINDS } from '../contract/finding-v1.ts';
import { SEVERITIES } from '../contract/finding-v1.ts';

export { SEVERITIES };
export type Severity = (typeof SEVERITIES)[number];
export type Action = (typeof ACTIONS)[number];
export type TargetKind = (typeof TARGET_KINDS)[number];

/** One event as evidence: where, when, from what. */
export interface EvidenceEvent {
  event_id: string;
  type: DetectorEvent['type'];
  time_ms: number;
  ip: string;
  country: string;
  city: string;
  /** where the address was placed (0, 0 when unknown) */
  lat: number;
  lon: number;
  device_id: string;
  user_agent: string;
  outcome: string;
  reason: string;
  /** who reported the event: the sending key's id ('' when unknown) and its role ('' when none
   * declared); absent in detections stored before reporters were recorded */
  reporter_id?: string;
  reporter_role?: string;
}

import { REVOCATION_TARGETS } from '../contract/revocation-api-v1.ts';

export { REVOCATION_TARGETS, type RevocationTarget } from '../contract/revocation-api-v1.ts';
/** What a detector's response policy revokes: what the finding asks for (auto), a fixed target, or nothing. */
export const POLICY_TARGETS = ['auto', ...REVOCATION_TARGETS, 'none'] as const;
export type PolicyTarget = (typeof POLICY_TARGETS)[number];

export interface Finding {
  /** the detector's name (the registry's: detectors/registry.ts) */
  detector: string;
  /** what happened, in a few words (e.g. "rotated refresh token presented again") */
  kind: string;
  severity: Severity;
  /** 0..1: how sure the detector is */
  confidence: number;
  tenant: string;
  subject: string;
  target: { kind: TargetKind; id: string };
  jti: string;
  family_id: string;
  session_id: string;
  action: Action;
  /** the events that prove it, and the figures (distances, speeds, devices, networks) */
  evidence: { events: EvidenceEvent[]; [figure: string]: unknown };
  /** event time of the earliest event in the evidence */
  first_event_ms: number;
  /** event time of the event that completed the evidence (the misuse itself) */
  detected_ms: number;
  /** that event's id: with detector, kind and target it identifies the finding */
  trigger_event_id: string;
}
