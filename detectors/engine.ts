/** The detectors, in the order they see each event, and one step over all of them. */
import type { Thresholds } from './config.ts';
import { detectDeviceReuse } from './device-reuse.ts';
import { detectImpossibleTravel } from './impossible-travel.ts';
import { detectRefreshReplay } from './refresh-replay.ts';
import type { KeyedState, Lifetimes } from './state.ts';
import type { DetectorEvent, DetectorName, Finding } from './types.ts';
import { detectVerificationAnomaly } from './verification-anomaly.ts';

export type Detector = (k: KeyedState, e: DetectorEvent, cfg: Thresholds) => Finding[];

export const DETECTORS: Readonly<Record<DetectorName, Detector>> = Object.freeze({
  refresh_replay: detectRefreshReplay,
  impossible_travel: detectImpossibleTravel,
  device_reuse: detectDeviceReuse,
  verification_anomaly: detectVerificationAnomaly,
});

export const DETECTOR_NAMES = Object.keys(DETECTORS) as DetectorName[];

export function isDetectorName(name: string): name is DetectorName {
  return Object.hasOwn(DETECTORS, name);
}

/** Runs every detector over one event. */
export function detectAll(k: KeyedState, e: DetectorEvent, cfg: Thresholds): Finding[] {
  const found: Finding[] = [];
  for (const name of DETECTOR_NAMES) {
    const f = DETECTORS[name](k, e, cfg);
    if (f.length > 0) found.push(...f);
  }
  return found;
}

export function lifetimesOf(cfg: Thresholds): Lifetimes {
  return {
    tokenS: cfg.tokenLifetimeS,
    familyS: cfg.familyLifetimeS,
    sessionS: cfg.sessionLifetimeS,
    windowS: Math.ceil(Math.max(cfg.dedupWindowMs, cfg.burstWindowMs, cfg.networkWindowMs) / 1000),
  };
}
