/**
 * Backtest: stored events from ClickHouse, in time order, through the same runtime and detectors
 * the service runs — reporting what would have fired, per detector, with samples. Acts on nothing
 * and writes nothing. Events in the warm-up before `from` only build state (a token rotated before
 * the range and replayed inside it is still found).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { Detection } from '../detection.ts';
import { REGISTRY } from '../registry.ts';
import { readHistory } from '../run/history.ts';
import { DetectorRuntime } from '../run/runtime.ts';
import type { DetectorSettings } from '../settings.ts';
import { type GapReport, RefreshGaps } from './refresh-gaps.ts';

export interface BacktestOptions {
  fromMs: number;
  toMs: number;
  /** seconds before `from` read for state only */
  warmupS: number;
  settings: DetectorSettings;
  /** samples per detector */
  samples: number;
  maxKeys: number;
}

export interface DetectorSummary {
  findings: number;
  subjects: number;
  dry_run: boolean;
  by_kind: Record<string, number>;
  by_severity: Record<string, number>;
  by_action: Record<string, number>;
  samples: Detection[];
}

export interface BacktestReport {
  from: string;
  to: string;
  warmup_s: number;
  events: { warmup: number; in_range: number };
  seconds: number;
  thresholds: DetectorSettings['base'];
  detectors: Record<string, DetectorSummary>;
  refresh_gaps: GapReport;
  state: { subjects: number; keys: number; evicted: number };
}

const bump = (o: Record<string, number>, k: string) => {
  o[k] = (o[k] ?? 0) + 1;
};

export async function backtest(
  client: ClickHouseClient,
  database: string,
  o: BacktestOptions,
  log?: Logger,
): Promise<BacktestReport> {
  const started = Date.now();
  const runtime = new DetectorRuntime({
    thresholds: o.settings.thresholds,
    dryRun: o.settings.dryRun,
    maxKeys: o.maxKeys,
    now: () => o.toMs,
  });
  const gaps = new RefreshGaps();
  const summary = (name: string): DetectorSummary => ({
    findings: 0,
    subjects: 0,
    dry_run: o.settings.dryRun.has(name),
    by_kind: {},
    by_severity: {},
    by_action: {},
    samples: [],
  });
  const summaries = Object.fromEntries(REGISTRY.names.map((name) => [name, summary(name)])) as Record<
    string,
    DetectorSummary
  >;
  const subjects = new Map<string, Set<string>>(REGISTRY.names.map((n) => [n, new Set()]));
  const events = { warmup: 0, in_range: 0 };
  const fromS = Math.floor(o.fromMs / 1000) - o.warmupS;

  await readHistory(
    client,
    database,
    { familiesFromS: fromS, tokensFromS: fromS, toS: Math.ceil(o.toMs / 1000) },
    (e) => {
      if (e.time_ms >= o.toMs) return;
      const inRange = e.time_ms >= o.fromMs;
      if (inRange) {
        events.in_range++;
        gaps.add(e);
      } else events.warmup++;
      for (const d of runtime.process(e, inRange ? 'live' : 'warmup')) {
        const s = summaries[d.detector]!;
        s.findings++;
        bump(s.by_kind, d.kind);
        bump(s.by_severity, d.severity);
        bump(s.by_action, d.action);
        subjects.get(d.detector)!.add(`${d.tenant}\u0000${d.subject}`);
        if (s.samples.length < o.samples) s.samples.push(d);
      }
      if ((events.in_range + events.warmup) % 50_000 === 0) runtime.sweep(50_000);
    },
    { log },
  );
  for (const name of REGISTRY.names) summaries[name]!.subjects = subjects.get(name)!.size;
  const { subjects: stateSubjects, keys, evicted } = runtime.stats;
  return {
    from: new Date(o.fromMs).toISOString(),
    to: new Date(o.toMs).toISOString(),
    warmup_s: o.warmupS,
    events,
    seconds: (Date.now() - started) / 1000,
    thresholds: o.settings.base,
    detectors: summaries,
    refresh_gaps: gaps.report(o.settings.base['graceWindowMs'] as number),
    state: { subjects: stateSubjects, keys, evicted },
  };
}

const table = (o: Record<string, number>) =>
  Object.entries(o)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || '—';

/** The report as markdown, for people. */
export function renderBacktest(r: BacktestReport): string {
  const lines = [
    `# tokenwatch backtest ${r.from} → ${r.to}`,
    '',
    `${r.events.in_range} events in range (${r.events.warmup} before it for state, warm-up ${r.warmup_s} s), ` +
      `${r.seconds.toFixed(1)} s. Nothing was revoked or stored: this is what would have fired.`,
    '',
    '| detector | findings | subjects | by severity | by action | dry-run |',
    '|---|---:|---:|---|---|---|',
    ...Object.entries(r.detectors).map(([n, s]) => {
      return `| ${n} | ${s.findings} | ${s.subjects} | ${table(s.by_severity)} | ${table(s.by_action)} | ${s.dry_run ? 'yes' : 'no'} |`;
    }),
    '',
  ];
  for (const [n, s] of Object.entries(r.detectors)) {
    if (s.findings === 0) continue;
    lines.push(`## ${n}`, '', `Kinds: ${table(s.by_kind)}`, '', 'Samples:', '');
    for (const d of s.samples) {
      const where = d.evidence.events.map((e) => `${e.city || e.ip || '?'} ${e.country}`.trim()).join(' → ');
      lines.push(
        `- ${new Date(d.detected_ms).toISOString()} ${d.tenant}/${d.subject} ${d.target.kind} ${d.target.id}: ` +
          `${d.kind} (${d.severity}, ${d.action}); ${where}`,
      );
    }
    lines.push('');
  }
  const g = r.refresh_gaps;
  lines.push(
    '## Refresh grace window',
    '',
    `Current grace window ${g.current_grace_window_ms} ms; suggested ${g.suggested_grace_window_ms} ms ` +
      '(largest per-client p99 of same-client re-presentations, plus half).',
    '',
    '| client_id | refreshes | concurrent re-presentations | p50 ms | p99 ms | max ms | beyond current grace |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...g.clients.map(
      (c) =>
        `| ${c.client_id} | ${c.refreshes} | ${c.concurrent} | ${c.p50_ms} | ${c.p99_ms} | ${c.max_ms} | ${c.beyond_grace} |`,
    ),
    '',
  );
  return lines.join('\n');
}
