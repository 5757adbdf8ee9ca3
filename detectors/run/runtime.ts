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
 * - Scopes: one process runs every detector whole (`all`). In Kafka mode an event is run once on its
 *   subject's owner (`subject`: per-source-IP parts left out) and, when a per-source part reads it,
 *   once more on its address's owner (`source`: those parts alone, no subject state) — address.ts.
 */
import { type Detection, toDetection } from '../detection.ts';
import { learn } from '../familiar.ts';
import { type DetectorRegistry, REGISTRY } from '../registry.ts';
import {
  type KeyedState,
  type Lifetimes,
  pruneSource,
  pruneSubject,
  SourceState,
  SubjectState,
  toSeconds,
  trackedToken,
} from '../state.ts';
import type { TenantThresholds } from '../thresholds.ts';
import type { DetectorEvent, Finding } from '../types.ts';
import { type SplitRegistry, splitBySource } from './address.ts';
import type { FamiliarRow } from './familiar-history.ts';

/** What the runtime reads from an event: a stored or freshly enriched event row. */
/** An event as the runtime takes it (who reported it may be unknown: fixtures, rows stored before reporters). */
export type DetectorInput = Omit<
  DetectorEvent,
  'type' | 'what' | 'reporter_id' | 'reporter_role' | 'asn' | 'as_org' | 'network_kind'
> & {
  type: string;
  reporter_id?: string;
  reporter_role?: string;
  /** unknown (0, '') in fixtures and rows stored before the address's network was recorded */
  asn?: number;
  as_org?: string;
  network_kind?: string;
};

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
  /** events the detectors failed on (skipped) */
  detectorFailures?: { inc(): void };
}

export interface RuntimeOptions {
  thresholds: TenantThresholds;
  /** detectors whose findings are reported but never acted on */
  dryRun: ReadonlySet<string>;
  /** the detectors to run (default: the built-in registry) */
  registry?: DetectorRegistry;
  /** cap on tracked tokens + families + sessions */
  maxKeys: number;
  metrics?: RuntimeMetrics;
  /** wall clock (ms), for detection times */
  now?: () => number;
  /** told of each event the detectors failed on (it was skipped) */
  onFailure?: (input: DetectorInput, err: Error) => void;
}

export type Mode = 'live' | 'warmup';

/** Which detectors' parts run: every one whole, the per-subject ones, or the per-source-IP ones. */
export type Scope = 'all' | 'subject' | 'source';

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

/**
 * One tenant's share of the state: its subjects in least-recently-seen order and its source
 * addresses. Kept apart so that past the cap the tenant holding the most loses its own oldest state
 * first: one tenant's flood of subjects cannot evict another tenant's.
 */
class TenantState {
  readonly name: string;
  readonly subjects = new Map<string, SubjectState>();
  readonly sources = new Map<string, SourceState>();
  /** tracked tokens + families + sessions of its subjects */
  keys = 0;

  constructor(name: string) {
    this.name = name;
  }

  /** what it counts against the cap: each subject (whatever it holds) plus its keys */
  get units(): number {
    return this.subjects.size + this.keys;
  }
}

export class DetectorRuntime {
  readonly #tenants = new Map<string, TenantState>();
  readonly #strings = new Interner(200_000);
  readonly #options: RuntimeOptions;
  readonly #registry: DetectorRegistry;
  readonly #split: SplitRegistry;
  readonly #now: () => number;
  #keys = 0;
  #subjects = 0;
  #sources = 0;
  #evicted = 0;
  #failures = 0;
  /** the newest event time seen (ms): the clock state expires by */
  #watermarkMs = 0;
  #sweepCursor: Iterator<[TenantState, string, SubjectState]> | undefined;

  constructor(options: RuntimeOptions) {
    this.#options = options;
    this.#registry = options.registry ?? REGISTRY;
    this.#split = splitBySource(this.#registry);
    this.#now = options.now ?? Date.now;
    options.metrics?.stateMaxKeys.set(options.maxKeys);
  }

  get stats() {
    return {
      subjects: this.#subjects,
      sources: this.#sources,
      keys: this.#keys,
      evicted: this.#evicted,
      failures: this.#failures,
      watermarkMs: this.#watermarkMs,
    };
  }

  /** Keys (tokens + families + sessions) and subjects held per tenant. */
  tenantStats(): Map<string, { subjects: number; keys: number; sources: number }> {
    return new Map(
      [...this.#tenants.values()].map((t) => [
        t.name,
        { subjects: t.subjects.size, keys: t.keys, sources: t.sources.size },
      ]),
    );
  }

  #tenant(name: string): TenantState {
    let t = this.#tenants.get(name);
    if (t === undefined) {
      t = new TenantState(name);
      this.#tenants.set(name, t);
    }
    return t;
  }

  /**
   * Runs the detectors over one event; the detections to report (none in warmup). Never throws: an
   * event the detectors fail on (a bug a hostile input found) is counted and skipped, so it cannot
   * crash a consumer into a loop that re-reads it forever.
   */
  process(input: DetectorInput, mode: Mode, scope: Scope = 'all'): Detection[] {
    try {
      return this.#process(input, mode, scope);
    } catch (err) {
      this.#failures++;
      this.#options.metrics?.detectorFailures?.inc();
      this.#options.onFailure?.(input, err as Error);
      return [];
    }
  }

  /** Whether a per-source-IP part reads the event (Kafka mode sends it on to its address's owner). */
  readsSource(input: DetectorInput): boolean {
    return EVENT_TYPES.has(input.type) && this.#split.readsSource(input);
  }

  #process(input: DetectorInput, mode: Mode, scope: Scope): Detection[] {
    if (!EVENT_TYPES.has(input.type)) return [];
    const e = this.#event(input);
    if (e.time_ms > this.#watermarkMs) this.#watermarkMs = Math.min(e.time_ms, this.#now() + 300_000);
    if (scope === 'source') return this.#processSource(e, mode);
    if (mode === 'live' && e.reason === 'revoked')
      this.#options.metrics?.revocationHits.inc({ type: e.type });

    const tenant = this.#tenant(e.tenant);
    let subject = tenant.subjects.get(e.subject);
    if (subject === undefined) {
      subject = new SubjectState();
      this.#subjects++;
    } else tenant.subjects.delete(e.subject); // re-inserted below: the map stays in least-recently-seen order
    tenant.subjects.set(e.subject, subject);
    const before = subject.keys;
    const seen = toSeconds(e.time_ms);
    if (seen > subject.lastSeenS) subject.lastSeenS = seen;

    // The source IP's state is looked up (and made) only when a detector reads it: rejections.
    const sourceOf = () => this.#source(tenant, e.ip);
    const keyed: KeyedState = {
      subject,
      get source() {
        return sourceOf();
      },
    };
    const registry = scope === 'subject' ? this.#split.subject : this.#registry;
    const found = registry.detectAll(keyed, e, this.#options.thresholds.for(e.tenant));
    const grown = subject.keys - before;
    tenant.keys += grown;
    this.#keys += grown;
    if (this.#keys + this.#subjects > this.#options.maxKeys) this.#evict();
    if (mode === 'warmup' || found.length === 0) return [];
    return this.#detections(found, subject);
  }

  /**
   * Learns one stored day of a subject's place and network (familiar-history.ts) — the rebuild of
   * familiarity, which is older than the events replayed. The subject is made when new.
   */
  learnFamiliar(row: FamiliarRow): void {
    const tenant = this.#tenant(row.tenant);
    let subject = tenant.subjects.get(row.subject);
    if (subject === undefined) {
      subject = new SubjectState();
      tenant.subjects.set(row.subject, subject);
      this.#subjects++;
      if (this.#keys + this.#subjects > this.#options.maxKeys) this.#evict();
    }
    const settings = this.#options.thresholds.for(row.tenant);
    learn(subject, row.place_key, row.day, settings);
    // the query gives an ASN only for egress networks, 0 otherwise (familiar-history.ts networkKey)
    learn(subject, row.asn, row.day, settings);
  }

  /** The per-source-IP parts over an event: its address's state only (no subject state is made). */
  #processSource(e: DetectorEvent, mode: Mode): Detection[] {
    const tenant = this.#tenant(e.tenant);
    const sourceOf = () => this.#source(tenant, e.ip);
    const keyed: KeyedState = {
      subject: new SubjectState(), // not read by the per-source parts; dropped after the event
      get source() {
        return sourceOf();
      },
    };
    const found = this.#split.source.detectAll(keyed, e, this.#options.thresholds.for(e.tenant));
    if (mode === 'warmup' || found.length === 0) return [];
    return this.#detections(found, undefined);
  }

  #detections(found: Finding[], subject: SubjectState | undefined): Detection[] {
    const foundAt = this.#now();
    return found.map((f) => {
      const dryRun = this.#options.dryRun.has(f.detector);
      const m = this.#options.metrics;
      m?.findings.inc({ detector: f.detector, severity: f.severity, dry_run: String(dryRun) });
      m?.detectionLatency.observe({ detector: f.detector }, Math.max(0, foundAt - f.detected_ms) / 1000);
      const token = f.jti === '' || subject === undefined ? undefined : trackedToken(subject, f.jti);
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
        l = this.#registry.lifetimes(this.#options.thresholds.for(tenant));
        lifetimes.set(tenant, l);
      }
      return l;
    };
    let removed = 0;
    for (let i = 0; i < budget; i++) {
      this.#sweepCursor ??= this.#everySubject();
      const next = this.#sweepCursor.next();
      if (next.done === true) {
        this.#sweepCursor = undefined;
        break;
      }
      const [tenant, key, subject] = next.value;
      const before = subject.keys;
      const empty = pruneSubject(subject, nowS, lifetimesFor(tenant.name));
      tenant.keys += subject.keys - before;
      this.#keys += subject.keys - before;
      if (empty) {
        this.#drop(tenant, key, subject);
        removed++;
      }
    }
    for (const tenant of this.#tenants.values()) {
      for (const [ip, source] of tenant.sources)
        if (pruneSource(source, nowS, lifetimesFor(tenant.name))) {
          tenant.sources.delete(ip);
          this.#sources--;
        }
      if (tenant.subjects.size === 0 && tenant.sources.size === 0) this.#tenants.delete(tenant.name);
    }
    this.#report();
    return removed;
  }

  *#everySubject(): Generator<[TenantState, string, SubjectState]> {
    for (const tenant of this.#tenants.values())
      for (const [key, subject] of tenant.subjects) yield [tenant, key, subject];
  }

  #drop(tenant: TenantState, key: string, subject: SubjectState) {
    tenant.subjects.delete(key);
    tenant.keys -= subject.keys;
    this.#keys -= subject.keys;
    this.#subjects--;
  }

  /** Drops the state of subjects this process no longer owns (their partitions moved to another). */
  forget(keep: (tenant: string, subject: string) => boolean): number {
    let dropped = 0;
    for (const tenant of this.#tenants.values())
      for (const [key, subject] of tenant.subjects) {
        if (keep(tenant.name, key)) continue;
        this.#drop(tenant, key, subject);
        dropped++;
      }
    this.#report();
    return dropped;
  }

  /** Drops the state of source addresses this process no longer owns (their partitions moved). */
  forgetSources(keep: (tenant: string, ip: string) => boolean): number {
    let dropped = 0;
    for (const tenant of this.#tenants.values())
      for (const ip of [...tenant.sources.keys()]) {
        if (keep(tenant.name, ip)) continue;
        tenant.sources.delete(ip);
        this.#sources--;
        dropped++;
      }
    return dropped;
  }

  #report() {
    this.#options.metrics?.stateSubjects.set(this.#subjects);
    this.#options.metrics?.stateKeys.set(this.#keys);
  }

  /** The tenant holding the most (by `of`), and how much the runner-up holds. */
  #largest(of: (t: TenantState) => number): { top: TenantState | undefined; next: number } {
    let top: TenantState | undefined;
    let next = 0;
    for (const t of this.#tenants.values()) {
      const n = of(t);
      if (top === undefined || n > of(top)) {
        if (top !== undefined) next = Math.max(next, of(top));
        top = t;
      } else next = Math.max(next, n);
    }
    return { top, next };
  }

  /**
   * Evicts least recently seen subjects until 5% below the cap, always from the tenant holding the
   * most (down to the runner-up's size, then the largest again): a flooding tenant loses its own
   * oldest state first.
   */
  #evict() {
    const target = Math.floor(this.#options.maxKeys * 0.95);
    let n = 0;
    while (this.#keys + this.#subjects > target) {
      const { top, next } = this.#largest((t) => t.units);
      if (top === undefined || top.subjects.size === 0) break;
      // At least one per round (a tie between tenants alternates between them).
      let here = 0;
      for (const [key, subject] of top.subjects) {
        if (this.#keys + this.#subjects <= target || (here > 0 && top.units < next)) break;
        this.#drop(top, key, subject);
        here++;
      }
      n += here;
    }
    this.#sweepCursor = undefined;
    this.#evicted += n;
    this.#options.metrics?.stateEvictions.inc(n);
    this.#report();
  }

  /** The source address's state; past the cap, the oldest source of the tenant with the most goes. */
  #source(tenant: TenantState, ip: string): SourceState {
    let s = tenant.sources.get(ip);
    if (s === undefined) {
      if (this.#sources >= this.#options.maxKeys) {
        const { top } = this.#largest((t) => t.sources.size);
        const oldest = top?.sources.keys().next().value;
        if (top !== undefined && oldest !== undefined) {
          top.sources.delete(oldest);
          this.#sources--;
        }
      }
      s = new SourceState();
      tenant.sources.set(ip, s);
      this.#sources++;
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
      asn: r.asn ?? 0,
      as_org: s.get(r.as_org ?? ''),
      network_kind: s.get(r.network_kind ?? ''),
      reporter_id: s.get(r.reporter_id ?? ''),
      reporter_role: s.get(r.reporter_role ?? ''),
      bound_key_thumbprint: s.get(r.bound_key_thumbprint ?? ''),
      proof_key_thumbprint: s.get(r.proof_key_thumbprint ?? ''),
      device_id_source: s.get(r.device_id_source ?? ''),
    };
  }
}
