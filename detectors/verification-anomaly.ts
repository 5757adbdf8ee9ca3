/**
 * verification_anomaly: what verifiers reject says something too.
 * - alg_not_allowed (alg "none", algorithm confusion): a forging attempt, reported per source IP.
 * - bursts of bad_signature / unknown_kid / wrong_audience / wrong_issuer per source IP and per
 *   subject, at or above a threshold within a window of event time (windows.ts: reports arriving
 *   out of order are counted with their neighbours in time).
 * - a revoked token still presented from a network its owner never used (from the owner's own
 *   networks it is a stale client, not an attacker).
 */

import { Type } from '@sinclair/typebox';
import { networkOf } from '../platform/net/network.ts';
import { defineDetector, type ThresholdsOf } from './descriptor.ts';
import { finding, firstInWindow, fromEvent } from './finding.ts';
import { type KeyedState, type Sighting, shared, sightingOf } from './state.ts';
import type { DetectorEvent, Finding } from './types.ts';
import { busiestWindowWith, insertByTime } from './windows.ts';

export const VERIFICATION_ANOMALY_THRESHOLDS = {
  burstThreshold: Type.Integer({
    minimum: 2,
    default: 20,
    description:
      'this many bad_signature / unknown_kid / wrong_audience / wrong_issuer rejections within the burst window, per source IP and per subject, is a burst',
  }),
  burstWindowMs: Type.Integer({
    minimum: 1,
    default: 60_000,
    description: 'the window (ms) those rejections are counted in',
  }),
};
type Cfg = ThresholdsOf<typeof VERIFICATION_ANOMALY_THRESHOLDS>;

const BURST_REASONS: ReadonlySet<string> = new Set([
  'bad_signature',
  'unknown_kid',
  'wrong_audience',
  'wrong_issuer',
]);
/** Networks remembered per subject (where the owner was seen with accepted tokens). */
const MAX_OWNER_NETWORKS = 32;

/**
 * Its two parts, for a runtime that keeps source-IP state apart from subject state (Kafka mode:
 * detectors/run/address.ts): per `subject` (its owners' networks, bursts per subject, revoked tokens)
 * and per `source` IP (forgeries, bursts per source IP). One process runs `both`.
 */
export type Part = 'both' | 'subject' | 'source';

/** Whether the per-source part reads the event (the runtime sends those to their address's owner). */
export const readsSourceState = (
  e: Pick<DetectorEvent, 'outcome' | 'reason' | 'alg' | 'ip'> & { type: string },
) =>
  e.type === 'verification' &&
  e.outcome !== 'accepted' &&
  (e.reason === 'alg_not_allowed' ||
    e.alg.toLowerCase() === 'none' ||
    (BURST_REASONS.has(e.reason) && e.ip !== ''));

export function detectVerificationAnomaly(
  k: KeyedState,
  e: DetectorEvent,
  cfg: Cfg,
  part: Part = 'both',
): Finding[] {
  if (e.type !== 'verification') return [];
  const { subject } = k; // k.source is read only for rejections (the runtime makes it on first read)
  const network = networkOf(e.ip);
  const bySubject = part !== 'source';
  const bySource = part !== 'subject';

  if (e.outcome === 'accepted') {
    const owned = subject.ownerNetworks ?? [];
    if (bySubject && network !== '' && !owned.includes(network)) {
      subject.ownerNetworks = [...owned, shared(network)].slice(-MAX_OWNER_NETWORKS);
    }
    return [];
  }

  const found: Finding[] = [];
  const base = fromEvent(e);
  const here = sightingOf(e);
  if (bySource && (e.reason === 'alg_not_allowed' || e.alg.toLowerCase() === 'none')) {
    const f = finding('verification_anomaly', {
      ...base,
      kind: 'forged token: algorithm not allowed',
      severity: 'high',
      confidence: 0.95,
      target: { kind: 'source_ip', id: e.ip },
      action: 'alert_only',
      evidence: { events: [here.evidence()], alg: e.alg },
      first_event_ms: e.time_ms,
    });
    if (firstInWindow(k.source, f, cfg.dedupWindowMs)) found.push(f);
  }

  if (BURST_REASONS.has(e.reason)) {
    const scopes: ['source_ip' | 'subject', string, { rejections: Sighting[] | undefined }][] = [];
    if (bySource && e.ip !== '') scopes.push(['source_ip', e.ip, k.source]);
    if (bySubject && e.subject !== '') scopes.push(['subject', e.subject, subject]);
    for (const [kind, id, holder] of scopes) {
      // rejections of the window and the allowed lateness, in event-time order (twice the threshold at most)
      const kept = insertByTime(
        holder.rejections,
        here,
        cfg.burstWindowMs + cfg.allowedLatenessMs,
        2 * cfg.burstThreshold,
      );
      if (kept === undefined) continue; // delivered again
      holder.rejections = kept;
      const recent = busiestWindowWith(kept, here, cfg.burstWindowMs);
      if (recent.length < cfg.burstThreshold) continue;
      const reasons: Record<string, number> = {};
      for (const x of recent) {
        const reason = x.what.split('/')[2] ?? '';
        reasons[reason] = (reasons[reason] ?? 0) + 1;
      }
      const f = finding('verification_anomaly', {
        ...base,
        kind: `burst of rejected tokens per ${kind === 'source_ip' ? 'source IP' : 'subject'}`,
        severity: 'medium',
        confidence: 0.8,
        target: { kind, id },
        action: 'alert_only',
        evidence: {
          events: recent.slice(0, 5).map((x) => x.evidence()),
          count: recent.length,
          window_ms: cfg.burstWindowMs,
          reasons,
        },
        first_event_ms: recent[0]!.time_ms,
      });
      if (firstInWindow(kind === 'source_ip' ? k.source : subject, f, cfg.dedupWindowMs)) found.push(f);
    }
  }

  const owners = bySubject ? subject.ownerNetworks : undefined;
  if (e.reason === 'revoked' && network !== '' && owners !== undefined && !owners.includes(network)) {
    const f = finding('verification_anomaly', {
      ...base,
      kind: 'revoked token presented from a network its owner never used',
      severity: 'high',
      confidence: 0.85,
      target: { kind: 'jti', id: e.jti },
      action: 'alert_only',
      evidence: { events: [here.evidence()], network, owner_networks: [...owners] },
      first_event_ms: e.time_ms,
    });
    if (firstInWindow(subject, f, cfg.dedupWindowMs)) found.push(f);
  }
  return found;
}

export const verificationAnomaly = defineDetector({
  name: 'verification_anomaly',
  finds:
    '`alg_not_allowed` (alg `none`, algorithm confusion) per source IP; bursts of `bad_signature`, `unknown_kid`, `wrong_audience`, `wrong_issuer` per source IP and per subject; a revoked token presented from a network its owner never used (every revocation hit is counted in `tokenwatch_revocation_hits_total`)',
  asks: 'alert only; high / medium',
  category: 'forgery',
  thresholds: VERIFICATION_ANOMALY_THRESHOLDS,
  policy: { target: 'none', minSeverity: 'high' },
  windowMs: (t) => t.burstWindowMs,
  detect: detectVerificationAnomaly,
});
