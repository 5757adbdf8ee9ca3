/**
 * The detector runtime: owns the keyed state (per tenant + subject, per tenant + source IP), runs
 * every detector over each event, and turns findings into detections. No I/O: sources feed it and
 * sinks take what it returns.
 *
 * - Memory: state is kept in least-recently-seen order; past `maxKeys` tracked tokens, families and
 *   sessions the oldest subjects are evicted (counted in metrics). `sweep` forgets what expired, by
 *   event time (token `exp` or lifetime, family and session lifetimes, windows).
 * - Modes: `live` reports findings; `warmup` (rebuilding state from history) only updates state,
 *   so what was reported before a restart is not reported again.
 */
import type { TenantThresholds } from './config.ts';
import { type Detection, toDetection } from './detection.ts';
import { detectAll, lifetimesOf } from './engine.ts';
import {
  hash52,
  type KeyedState,
  type Lifetimes,
  pruneSource,
  pruneSubject,
  SourceState,
  SubjectState,
  toSeconds,
} from './state.ts';
import type { DetectorEvent, DetectorName } from './types.ts';

/** What the runtime reads from an event: a stored or freshly enriched event row. */
export type DetectorInput = Omit<DetectorEvent, 'type' | 'what'> & { type: string };

/** The metrics the runtime reports (a subset of the service's; absent in backtests). */
export interface RuntimeMetrics {
  findings: { inc(labels: { detector: string; severity: string; dry_run: string }): void };
  detectionLatency: { observe(labels: { detector: string }, seconds: number): void };
  detectorEvents: { inc(labels: { mode: string }, n?: number): void };
  revocationHits: { inc(labels: { type: string }): void };
  stateSubjects: { set(n: number): void };
  stateKeys: { set(n: number): void };
  stateMaxKeys: { set(n: number): void };
  stateEvictions: { inc(n?: number): void };
}

export interface RuntimeOptions {
  thresholds: TenantThresholds;
  /** detectors whose findings are reported but never acted on */
  dryRun: ReadonlySet<DetectorName>;
  /** cap on tracked tokens + families + sessions */
  maxKeys: number;
  metrics?: RuntimeMetrics;
  /** wall clock (ms), for detection times */
  now?: () => number;
}

export type Mode = 'live' | 'warmup';

const EVENT_TYPES: ReadonlySet<string> = new Set(['verification', 'refresh', 'issuance', 'revocation']);

/** Shares one copy of strings that repeat across events (addresses, user agents, places, outcomes). */
class Interner {
  #strings = new Map<string, string>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get(s: string): string {
    if (s === '') return '';
    const known = this.#strings.get(s);
    if (known !== undefined) return known;
    if (this.#strings.size >= this.#max) this.#strings.clear();
    this.#strings.set(s, s);
    return s;
  }
}

export const subjectKey = (tenant: string, subject: string) => `${tenant}\u0000${subject}`;

/** A subjectKey back to [tenant, subject]. */
function splitKey(key: string): [string, string] {
  const sep = key.indexOf('\u0000');
  return [key.slice(0, sep), key.slice(sep + 1)];
}

export class DetectorRuntime {
  readonly #subjects = new Map<string, SubjectState>();
  readonly #sources = new Map<string, SourceState>();
  readonly #strings = new Interner(200_000);
  readonly #options: RuntimeOptions;
  readonly #now: () => number;
  #keys = 0;
  #evicted = 0;
  /** the newest event time seen (ms): the clock state expires by */
  #watermarkMs = 0;
  #sweepCursor: Iterator<[string, SubjectState]> | undefined;

  constructor(options: RuntimeOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    options.metrics?.stateMaxKeys.set(options.maxKeys);
  }

  get stats() {
    return {
      subjects: this.#subjects.size,
      sources: this.#sources.size,
      keys: this.#keys,
      evicted: this.#evicted,
      watermarkMs: this.#watermarkMs,
    };
  }

  /** Runs the detectors over one event; the detections to report (none in warmup). */
  process(input: DetectorInput, mode: Mode): Detection[] {
    if (!EVENT_TYPES.has(input.type)) return [];
    const e = this.#event(input);
    if (e.time_ms > this.#watermarkMs) this.#watermarkMs = Math.min(e.time_ms, this.#now() + 300_000);
    if (mode === 'live' && e.reason === 'revoked')
      this.#options.metrics?.revocationHits.inc({ type: e.type });

    const key = subjectKey(e.tenant, e.subject);
    let subject = this.#subjects.get(key);
    if (subject === undefined) subject = new SubjectState();
    else this.#subjects.delete(key); // re-inserted below: the map stays in least-recently-seen order
    this.#subjects.set(key, subject);
    const before = subject.keys;
    const seen = toSeconds(e.time_ms);
    if (seen > subject.lastSeenS) subject.lastSeenS = seen;

    // The source IP's state is looked up (and made) only when a detector reads it: rejections.
    const sourceOf = () => this.#source(e);
    const keyed: KeyedState = {
      subject,
      get source() {
        return sourceOf();
      },
    };
    const found = detectAll(keyed, e, this.#options.thresholds.for(e.tenant));
    this.#keys += subject.keys - before;
    if (this.#keys > this.#options.maxKeys) this.#evict();
    if (mode === 'warmup' || found.length === 0) return [];

    const foundAt = this.#now();
    return found.map((f) => {
      const dryRun = this.#options.dryRun.has(f.detector);
      const m = this.#options.metrics;
      m?.findings.inc({ detector: f.detector, severity: f.severity, dry_run: String(dryRun) });
      m?.detectionLatency.observe({ detector: f.detector }, Math.max(0, foundAt - f.detected_ms) / 1000);
      const token = f.jti === '' ? undefined : subject.tokens?.get(hash52(f.jti));
      return toDetection(f, dryRun, foundAt, token === undefined ? 0 : token.untilS * 1000);
    });
  }

  /**
   * Forgets expired state, visiting at most `budget` subjects from where the last sweep stopped
   * (call it often with a small budget rather than blocking on millions of keys).
   */
  sweep(budget = 10_000): number {
    const nowS = toSeconds(this.#watermarkMs);
    const lifetimes = new Map<string, Lifetimes>();
    const lifetimesFor = (tenant: string) => {
      let l = lifetimes.get(tenant);
      if (l === undefined) {
        l = lifetimesOf(this.#options.thresholds.for(tenant));
        lifetimes.set(tenant, l);
      }
      return l;
    };
    let removed = 0;
    for (let i = 0; i < budget; i++) {
      this.#sweepCursor ??= this.#subjects.entries();
      const next = this.#sweepCursor.next();
      if (next.done === true) {
        this.#sweepCursor = undefined;
        break;
      }
      const [key, subject] = next.value;
      const before = subject.keys;
      const empty = pruneSubject(subject, nowS, lifetimesFor(splitKey(key)[0]));
      this.#keys += subject.keys - before;
      if (empty) {
        this.#subjects.delete(key);
        removed++;
      }
    }
    for (const [key, source] of this.#sources)
      if (pruneSource(source, nowS, lifetimesFor(splitKey(key)[0]))) this.#sources.delete(key);
    this.#report();
    return removed;
  }

  /** Drops the state of subjects this process no longer owns (their partitions moved to another). */
  forget(keep: (tenant: string, subject: string) => boolean): number {
    let dropped = 0;
    for (const [key, subject] of this.#subjects) {
      if (keep(...splitKey(key))) continue;
      this.#keys -= subject.keys;
      this.#subjects.delete(key);
      dropped++;
    }
    this.#report();
    return dropped;
  }

  #report() {
    this.#options.metrics?.stateSubjects.set(this.#subjects.size);
    this.#options.metrics?.stateKeys.set(this.#keys);
  }

  /** Evicts the least recently seen subjects until 5% below the cap. */
  #evict() {
    const target = Math.floor(this.#options.maxKeys * 0.95);
    let n = 0;
    for (const [key, subject] of this.#subjects) {
      if (this.#keys <= target) break;
      this.#keys -= subject.keys;
      this.#subjects.delete(key);
      n++;
    }
    this.#sweepCursor = undefined;
    this.#evicted += n;
    this.#options.metrics?.stateEvictions.inc(n);
    this.#report();
  }

  #source(e: DetectorEvent): SourceState {
    const key = subjectKey(e.tenant, e.ip);
    let s = this.#sources.get(key);
    if (s === undefined) {
      if (this.#sources.size >= this.#options.maxKeys) {
        const oldest = this.#sources.keys().next().value;
        if (oldest !== undefined) this.#sources.delete(oldest);
      }
      s = new SourceState();
      this.#sources.set(key, s);
    }
    return s;
  }

  /** The detectors' view of an event, with repeated strings shared. */
  #event(r: DetectorInput): DetectorEvent {
    const s = this.#strings;
    const type = s.get(r.type) as DetectorEvent['type'];
    const outcome = s.get(r.outcome);
    const reason = s.get(r.reason);
    return {
      event_id: r.event_id,
      type,
      what: s.get(`${type}/${outcome}/${reason}`),
      time_ms: r.time_ms,
      tenant: s.get(r.tenant),
      subject: r.subject,
      source: s.get(r.source),
      client_id: s.get(r.client_id),
      session_id: r.session_id,
      ip: s.get(r.ip),
      user_agent: s.get(r.user_agent),
      device_id: s.get(r.device_id),
      outcome,
      reason,
      jti: r.jti,
      alg: s.get(r.alg),
      exp: r.exp,
      family_id: r.family_id,
      token_id: r.token_id,
      new_token_id: r.new_token_id,
      access_jti: r.access_jti,
      country: s.get(r.country),
      city: s.get(r.city),
      lat: r.lat,
      lon: r.lon,
      geo_radius_km: r.geo_radius_km,
    };
  }
}
