/**
 * The detectors as one process runs them, in this process: event lines through the real validation,
 * enrichment (geoip-lite) and detector runtime, in the order given. The reference a scale-out run is
 * compared with (npm run eval -- --instances 2 --shuffle, the scale-out test), and how the detector
 * fixtures are judged.
 */
import type { Detection } from '../../detectors/detection.ts';
import { type DetectorRegistry, REGISTRY } from '../../detectors/registry.ts';
import { DetectorRuntime } from '../../detectors/run/runtime.ts';
import { TenantThresholds, type ThresholdSettings } from '../../detectors/thresholds.ts';
import { createMetrics } from '../../ingest/metrics.ts';
import { Stage } from '../../ingest/pipeline/stage.ts';
import { loadConfig } from '../../service/config.ts';

const stage = new Stage(loadConfig({}).ingest.limits, createMetrics());

/** How the judge receives the lines. */
export interface JudgeOptions {
  /**
   * The receiving clock (epoch ms) events are validated against; default: just after the latest
   * event (fixtures with fixed times). A comparison with running instances passes their clock.
   */
  nowMs?: number;
  /** 'skip': lines that do not validate are left out, as instances dead-letter them; default: throw */
  invalid?: 'throw' | 'skip';
}

/** What one runtime (as one process runs it) reports for event lines delivered in this order. */
export function runLines(
  lines: readonly string[],
  thresholds: ThresholdSettings,
  registry: DetectorRegistry = REGISTRY,
  name = 'events',
  options: JudgeOptions = {},
): Detection[] {
  const nowMs = options.nowMs ?? latestTime(lines) + 1000;
  const runtime = new DetectorRuntime({
    thresholds: new TenantThresholds(thresholds),
    dryRun: new Set(),
    maxKeys: 1_000_000,
    registry,
    now: () => nowMs,
  });
  const found: Detection[] = [];
  for (const line of lines) {
    const v = stage.validateText(line, { nowMs });
    if (!v.ok) {
      if (options.invalid === 'skip') continue;
      throw new Error(`${name}: an event does not validate: ${v.error.message}\n${line}`);
    }
    found.push(...runtime.process(stage.enrich(v.event, nowMs), 'live'));
  }
  return found;
}

/** The latest event time of the lines (a loop: half a million arguments to Math.max overflow the stack). */
function latestTime(lines: readonly string[]): number {
  let latest = Number.NEGATIVE_INFINITY;
  for (const l of lines) {
    const time = (JSON.parse(l) as { time: string | number }).time;
    const t = typeof time === 'number' ? time : Date.parse(time); // the contract takes both
    if (t > latest) latest = t;
  }
  return latest;
}

/** What a finding is, whatever the order reports came in: which detector found which target of whom. */
export const verdictOf = (d: { detector: string; subject: string; target: { kind: string; id: string } }) =>
  `${d.detector} ${d.subject} ${d.target.kind}:${d.target.id}`;
