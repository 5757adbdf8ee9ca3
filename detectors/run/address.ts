/**
 * Per-address state with N instances: the detectors' per-source-IP parts run apart from the rest.
 * In Kafka mode each subject's owner runs the per-subject parts and re-keys the events the per-source
 * parts read by `tenant:ip` onto the detectors' address topic; the member owning that address's
 * partition runs the per-source parts. Every address then has one owner, and its counts are the
 * whole stream's, not 1/N of it — same detector, same kind, same threshold as in one process.
 *
 * A detector with state per source IP adds its line to SOURCE_PARTS (how to run each part, and
 * which events its per-source part reads); the others run whole on the subject's owner.
 */
import type { AnyDetector } from '../descriptor.ts';
import { DetectorRegistry } from '../registry.ts';
import type { DetectorEvent } from '../types.ts';
import { detectVerificationAnomaly, readsSourceState, verificationAnomaly } from '../verification-anomaly.ts';

type Detect = AnyDetector['detect'];

interface SourcePart {
  bySubject: Detect;
  bySource: Detect;
  /** whether the per-source part reads the event */
  reads(e: SourceRead): boolean;
}

/** What deciding whether an event goes to its address's owner takes. */
export type SourceRead = Pick<DetectorEvent, 'outcome' | 'reason' | 'alg' | 'ip'> & { type: string };

const SOURCE_PARTS: ReadonlyMap<string, SourcePart> = new Map<string, SourcePart>([
  [
    verificationAnomaly.name,
    {
      bySubject: (k, e, t) => detectVerificationAnomaly(k, e, t as never, 'subject'),
      bySource: (k, e, t) => detectVerificationAnomaly(k, e, t as never, 'source'),
      reads: readsSourceState,
    },
  ],
]);

export interface SplitRegistry {
  /** every detector, with the per-subject part of those that have a per-source one */
  subject: DetectorRegistry;
  /** the per-source parts alone */
  source: DetectorRegistry;
  /** whether any per-source part reads the event */
  readsSource(e: SourceRead): boolean;
}

/** `registry` split into what runs on a subject's owner and what runs on an address's owner. */
export function splitBySource(registry: DetectorRegistry): SplitRegistry {
  const parts = registry.detectors.flatMap((d) => {
    const p = SOURCE_PARTS.get(d.name);
    return p === undefined ? [] : [{ d, p }];
  });
  const subject = new DetectorRegistry(
    registry.detectors.map((d) => {
      const p = SOURCE_PARTS.get(d.name);
      return p === undefined ? d : { ...d, detect: p.bySubject };
    }),
  );
  const source = new DetectorRegistry(parts.map(({ d, p }) => ({ ...d, detect: p.bySource })));
  const reads = parts.map(({ p }) => p.reads);
  return { subject, source, readsSource: (e) => reads.some((r) => r(e)) };
}
