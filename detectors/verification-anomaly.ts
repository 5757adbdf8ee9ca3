/**
 * verification_anomaly: what verifiers reject says something too.
 * - alg_not_allowed (alg "none", algorithm confusion): a forging attempt, reported per source IP.
 * - bursts of bad_signature / unknown_kid / wrong_audience / wrong_issuer per source IP and per
 *   subject, at or above a threshold within a window.
 * - a revoked token still presented from a network its owner never used (from the owner's own
 *   networks it is a stale client, not an attacker).
 */
import type { Thresholds } from './config.ts';
import { dedupe, finding, fromEvent } from './finding.ts';
import { networkOf } from './network.ts';
import {
  type DetectorEvent,
  type EvidenceEvent,
  evidenceOf,
  type Finding,
  type StepResult,
} from './types.ts';

const BURST_REASONS: ReadonlySet<string> = new Set([
  'bad_signature',
  'unknown_kid',
  'wrong_audience',
  'wrong_issuer',
]);
/** Networks remembered per subject (where the owner was seen with accepted tokens). */
const MAX_OWNER_NETWORKS = 32;

export interface VerificationAnomalyState {
  /** `ip:…` / `subject:…` → recent rejections counted for bursts (at most the threshold) */
  bursts: Record<string, EvidenceEvent[]>;
  /** networks where this subject's tokens were accepted */
  ownerNetworks: string[];
  reported: Record<string, number>;
}

export const initialVerificationAnomalyState = (): VerificationAnomalyState => ({
  bursts: {},
  ownerNetworks: [],
  reported: {},
});

export function stepVerificationAnomaly(
  state: VerificationAnomalyState,
  e: DetectorEvent,
  cfg: Thresholds,
): StepResult<VerificationAnomalyState> {
  if (e.type !== 'verification') return { state, findings: [] };
  const found: Finding[] = [];
  let next = state;
  const base = fromEvent(e);
  const network = networkOf(e.ip);

  if (e.outcome === 'accepted') {
    if (network !== '' && !next.ownerNetworks.includes(network)) {
      next = { ...next, ownerNetworks: [...next.ownerNetworks, network].slice(-MAX_OWNER_NETWORKS) };
    }
    return { state: next, findings: [] };
  }

  if (e.reason === 'alg_not_allowed' || e.alg.toLowerCase() === 'none') {
    found.push(
      finding('verification_anomaly', {
        ...base,
        kind: 'forged token: algorithm not allowed',
        severity: 'high',
        confidence: 0.95,
        target: { kind: 'source_ip', id: e.ip },
        action: 'alert_only',
        evidence: { events: [evidenceOf(e)], alg: e.alg },
        first_event_ms: e.time_ms,
      }),
    );
  }

  if (BURST_REASONS.has(e.reason)) {
    const bursts = { ...next.bursts };
    const scopes: ['source_ip' | 'subject', string][] = [];
    if (e.ip !== '') scopes.push(['source_ip', e.ip]);
    if (e.subject !== '') scopes.push(['subject', e.subject]);
    for (const [kind, id] of scopes) {
      const key = `${kind}:${id}`;
      const recent = [
        ...(bursts[key] ?? []).filter((x) => e.time_ms - x.time_ms < cfg.burstWindowMs),
        evidenceOf(e),
      ].slice(-cfg.burstThreshold);
      bursts[key] = recent;
      if (recent.length < cfg.burstThreshold) continue;
      const reasons: Record<string, number> = {};
      for (const x of recent) reasons[x.reason] = (reasons[x.reason] ?? 0) + 1;
      found.push(
        finding('verification_anomaly', {
          ...base,
          kind: `burst of rejected tokens per ${kind === 'source_ip' ? 'source IP' : 'subject'}`,
          severity: 'medium',
          confidence: 0.8,
          target: { kind, id },
          action: 'alert_only',
          evidence: {
            events: recent.slice(0, 5),
            count: recent.length,
            window_ms: cfg.burstWindowMs,
            reasons,
          },
          first_event_ms: recent[0]!.time_ms,
        }),
      );
    }
    next = { ...next, bursts };
  }

  if (
    e.reason === 'revoked' &&
    network !== '' &&
    next.ownerNetworks.length > 0 &&
    !next.ownerNetworks.includes(network)
  ) {
    found.push(
      finding('verification_anomaly', {
        ...base,
        kind: 'revoked token presented from a network its owner never used',
        severity: 'high',
        confidence: 0.85,
        target: { kind: 'jti', id: e.jti },
        action: 'alert_only',
        evidence: { events: [evidenceOf(e)], network, owner_networks: next.ownerNetworks },
        first_event_ms: e.time_ms,
      }),
    );
  }
  return dedupe(next, found, cfg.dedupWindowMs);
}
