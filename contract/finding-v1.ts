/**
 * The finding v1: what the detectors publish on the findings topic (Kafka: key `tenant:subject`,
 * value this JSON; after the response stage, in process, decided on it — for whoever else wants the
 * findings: SIEMs, other tools), and what GET /v1/detections answers (with `revocation`, where the
 * revocation it led to stands). The lists of severities, actions and target kinds are
 * defined here and used by the detectors.
 */
import { type Static, Type } from '@sinclair/typebox';

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export const ACTIONS = ['revoke_family', 'revoke_jti', 'alert_only'] as const;
export const TARGET_KINDS = ['family', 'jti', 'session', 'source_ip', 'subject'] as const;
export const RESPONSE_DECISIONS = ['', 'revoke', 'dry_run', 'suppressed', 'alert_only', 'duplicate'] as const;

const words = <const W extends readonly string[]>(list: W, description: string) =>
  Type.Union(
    list.map((w) => Type.Literal(w)),
    { description },
  );

/** One event as evidence: where, when, from what. */
export const EvidenceEvent = Type.Object({
  event_id: Type.String(),
  type: Type.String({ description: 'the event type (contract v1)' }),
  time_ms: Type.Integer({ description: 'its event time (epoch ms)' }),
  ip: Type.String(),
  country: Type.String(),
  city: Type.String(),
  lat: Type.Number({ description: 'where the address was placed (0 when unknown)' }),
  lon: Type.Number(),
  device_id: Type.String(),
  user_agent: Type.String(),
  outcome: Type.String(),
  reason: Type.String(),
});

export const Finding = Type.Object(
  {
    detection_id: Type.String({
      description: 'deterministic: a redelivered event gives the same finding the same id',
    }),
    detector: Type.String({ description: 'the detector’s name (docs/detection.md)' }),
    kind: Type.String({ description: 'what happened, in a few words' }),
    severity: words(SEVERITIES, 'how bad'),
    confidence: Type.Number({ minimum: 0, maximum: 1 }),
    tenant: Type.String(),
    subject: Type.String(),
    target: Type.Object({
      kind: words(TARGET_KINDS, 'what the finding is about'),
      id: Type.String(),
    }),
    jti: Type.String(),
    family_id: Type.String(),
    session_id: Type.String(),
    action: words(ACTIONS, 'what the detector asks for'),
    dry_run: Type.Boolean({ description: 'reported only: never acted on' }),
    evidence: Type.Object(
      { events: Type.Array(EvidenceEvent) },
      {
        additionalProperties: true,
        description: 'the events that prove it, and the figures (distances, speed, devices, networks, …)',
      },
    ),
    first_event_ms: Type.Integer({ description: 'event time of the earliest evidence event' }),
    detected_ms: Type.Integer({
      description: 'event time of the misuse (the event that completed the evidence)',
    }),
    trigger_event_id: Type.String(),
    found_at_ms: Type.Integer({ description: 'wall clock when tokenwatch found it' }),
    response: words(RESPONSE_DECISIONS, 'what the response stage decided ("" before it did)'),
    revocation_id: Type.String({ description: 'the revocation it led to ("" when none)' }),
  },
  { title: 'finding v1' },
);
export type FindingV1 = Static<typeof Finding>;
