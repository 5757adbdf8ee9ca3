/** Alerts made from detections and from the guard (pure): what on-call reads first. */
import type { Detection, ResponseDecision } from '../../detectors/detection.ts';
import type { Alert } from '../alert.ts';
import { reportersText } from './corroboration.ts';
import type { GuardScope } from './guard.ts';
import type { Intent } from './policy.ts';

const DETECTOR_TITLES: Record<string, string> = {
  refresh_replay: 'Refresh token replay',
  impossible_travel: 'Impossible travel',
  device_reuse: 'Token on several devices',
  verification_anomaly: 'Verification anomaly',
};

function outcomeText(decision: ResponseDecision, intent: Intent): string {
  const what = intent.revoke ? `${intent.ref.target} ${intent.ref.id}` : '';
  switch (decision) {
    case 'revoke':
      return `revoking ${what}`;
    case 'dry_run':
      return `dry run: ${what} NOT revoked (${intent.why})`;
    case 'suppressed':
      return `${what} NOT revoked: blast-radius guard holding`;
    case 'duplicate':
      return `${what} already revoked or being revoked`;
    default:
      return 'alert only';
  }
}

export function detectionAlert(d: Detection, intent: Intent, publicUrl: string): Alert {
  const places = d.evidence.events
    .map(
      (e) =>
        `• ${new Date(e.time_ms).toISOString()} ${e.type}/${e.outcome || '-'} from ${e.ip || '?'}` +
        ` (${[e.city, e.country].filter((x) => x !== '').join(', ') || 'unknown place'})` +
        `${e.device_id !== '' ? ` device ${e.device_id}` : ''}` +
        ` — reported by ${reportersText([e])}`,
    )
    .slice(0, 6);
  const url =
    publicUrl === ''
      ? undefined
      : `${publicUrl.replace(/\/$/, '')}/v1/detections?tenant=${encodeURIComponent(d.tenant)}&subject=${encodeURIComponent(d.subject)}`;
  return {
    kind: 'detection',
    group_key: `${d.tenant}:${d.subject}`,
    tenant: d.tenant,
    subject: d.subject,
    detector: d.detector,
    severity: d.severity,
    title: `${DETECTOR_TITLES[d.detector] ?? d.detector} — ${d.subject}: ${d.kind}; ${outcomeText(d.response, intent)}`,
    text: [
      `${d.kind} (severity ${d.severity}, confidence ${d.confidence}); ${d.response === 'alert_only' ? intent.why : outcomeText(d.response, intent)}`,
      ...places,
    ].join('\n'),
    fields: {
      detection_id: d.detection_id,
      detector: d.detector,
      kind: d.kind,
      response: d.response,
      revocation_id: d.revocation_id,
      target: d.target.kind,
      target_id: d.target.id,
      confidence: d.confidence,
      reporters: reportersText(d.evidence.events),
    },
    time_ms: d.detected_ms,
    ...(url !== undefined ? { url } : {}),
  };
}

export function guardAlert(scope: GuardScope, tenant: string, limit: number, nowMs: number): Alert {
  const where = scope === 'tenant' ? `tenant ${tenant}` : 'all tenants';
  return {
    kind: 'guard_tripped',
    group_key: 'guard',
    tenant: scope === 'tenant' ? tenant : '',
    subject: '',
    detector: '',
    severity: 'critical',
    title: `Blast-radius guard tripped: more than ${limit} revocations/min for ${where}; revocations held back`,
    text:
      'Findings past the limit are alerts only (response "suppressed"); nothing is revoked for them. ' +
      'A wrong threshold or a bad geo database can look like this: check the findings before raising ' +
      'TOKENWATCH_GUARD_TENANT_PER_MINUTE / TOKENWATCH_GUARD_TOTAL_PER_MINUTE.',
    fields: { scope, limit_per_minute: limit },
    time_ms: nowMs,
  };
}

/** The shared guard gave no verdict in time: revocations are held back until it answers again. */
export function guardUnavailableAlert(tenant: string, nowMs: number): Alert {
  return {
    kind: 'guard_tripped',
    group_key: 'guard',
    tenant: '',
    subject: '',
    detector: '',
    severity: 'critical',
    title: 'Blast-radius guard unavailable: its shared log did not answer; revocations held back',
    text:
      'The instances share the guard through a Kafka topic (TOKENWATCH_KAFKA_GUARD_TOPIC). It did not ' +
      'answer within TOKENWATCH_GUARD_WAIT_MS, so this instance cannot know the budget left: findings ' +
      'that would revoke are alerts only (response "suppressed") until it answers again. Check Kafka ' +
      `(the first finding held back was tenant ${tenant}'s).`,
    fields: { scope: 'unavailable' },
    time_ms: nowMs,
  };
}
