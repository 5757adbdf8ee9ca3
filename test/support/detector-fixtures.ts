/**
 * Detector fixtures: test/fixtures/detectors/<case>/ holds `events.ndjson` (contract v1 events, in
 * event-time order), `expected.json` (the findings they must give, with the device evidence's trust
 * where a finding's evidence says it) and a README saying what the case
 * is. Events go through the real ingest pipeline (validation, enrichment with geoip-lite) and the
 * real detector runtime, in any delivery order the test chooses.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Detection } from '../../detectors/detection.ts';
import type { DetectorRegistry } from '../../detectors/registry.ts';
import { REGISTRY } from '../../detectors/registry.ts';
import type { ThresholdSettings } from '../../detectors/thresholds.ts';
import { REPO_ROOT } from '../../tools/local-stack/paths.ts';
import { runLines } from '../../tools/simulator/in-process.ts';

export const FIXTURES_DIR = join(REPO_ROOT, 'test/fixtures/detectors');

/** A finding as a fixture expects it. */
export interface ExpectedFinding {
  detector: string;
  kind: string;
  severity: string;
  /** `<kind>:<id>` */
  target: string;
  /** the event that completed the evidence */
  trigger: string;
  /** device evidence's trust (`strong` / `weak`), where the finding's evidence says it */
  device_trust?: string;
}

export interface DetectorFixture {
  name: string;
  /** the events as lines of text, in event-time order */
  lines: string[];
  expected: ExpectedFinding[];
  thresholds: Partial<ThresholdSettings>;
}

export function loadFixtures(dir = FIXTURES_DIR): DetectorFixture[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => {
      const at = (f: string) => join(dir, d.name, f);
      const read = (f: string) => readFileSync(at(f), 'utf8');
      const expected = JSON.parse(read('expected.json')) as {
        thresholds?: Partial<ThresholdSettings>;
        findings: ExpectedFinding[];
      };
      return {
        name: d.name,
        lines: read('events.ndjson')
          .split('\n')
          .filter((l) => l.trim() !== ''),
        expected: expected.findings,
        thresholds: expected.thresholds ?? {},
      };
    });
}

/** What the runtime reports for the lines, delivered in the order given. */
export function runFixture(
  f: DetectorFixture,
  order: readonly string[] = f.lines,
  registry: DetectorRegistry = REGISTRY,
): Detection[] {
  return runLines(order, { ...registry.defaults, ...f.thresholds }, registry, f.name);
}

/** Findings as a fixture lists them, in a stable order. */
export const asExpected = (found: readonly Detection[]): ExpectedFinding[] =>
  found
    .map((d) => ({
      detector: d.detector,
      kind: d.kind,
      severity: d.severity,
      target: `${d.target.kind}:${d.target.id}`,
      trigger: d.trigger_event_id,
      ...(d.evidence['device_trust'] === undefined
        ? {}
        : { device_trust: String(d.evidence['device_trust']) }),
    }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
