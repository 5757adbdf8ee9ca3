/**
 * Detector state, keyed the way Kafka partitions the stream: one SubjectState per tenant + subject
 * (its tokens, families and sessions) and one SourceState per tenant + source IP.
 *
 * Detectors update the state they are handed and return their findings; the runtime owns each
 * state exclusively, so nothing else ever sees it change. (Copying the state per event, as a
 * persistent structure would, made every event O(state): a service account with 10k live tokens
 * turned the stream quadratic.) The records are small classes with fixed shapes, numbers kept as
 * small integers where they can be, and one Sighting shared by every detector that remembers an
 * event — memory per tracked token is what bounds how many a process can watch.
 */
import type { DetectorEvent, EvidenceEvent } from './types.ts';

/** Where an address is, shared by every sighting from it (one per address in memory, not one per event). */
export class Place {
  readonly ip: string;
  readonly country: string;
  readonly city: string;
  /** latitude and longitude in 1e-5 degrees (about a metre): small integers, stored unboxed */
  readonly lat5: number;
  readonly lon5: number;
  readonly radius_km: number;

  constructor(e: DetectorEvent) {
    this.ip = e.ip;
    this.country = e.country;
    this.city = e.city;
    this.lat5 = Math.round(e.lat * 1e5);
    this.lon5 = Math.round(e.lon * 1e5);
    this.radius_km = e.geo_radius_km;
  }

  matches(e: DetectorEvent): boolean {
    return (
      this.ip === e.ip &&
      this.country === e.country &&
      this.city === e.city &&
      this.lat5 === Math.round(e.lat * 1e5) &&
      this.lon5 === Math.round(e.lon * 1e5) &&
      this.radius_km === e.geo_radius_km
    );
  }
}

const PLACES_KEPT = 100_000;
const places = new Map<string, Place>();

/** The event's Place, shared with earlier events from the same address and location. */
function placeOf(e: DetectorEvent): Place {
  const known = places.get(e.ip);
  if (known?.matches(e)) return known;
  const place = new Place(e);
  if (places.size >= PLACES_KEPT) places.clear();
  places.set(e.ip, place);
  return place;
}

const REPORTERS_KEPT = 10_000;
const reporters = new Map<string, Reporter>();

/** Who reported an event (the key's id and role), one object per reporter in memory. */
export class Reporter {
  readonly id: string;
  readonly role: string;

  constructor(id: string, role: string) {
    this.id = id;
    this.role = role;
  }
}

function reporterOf(e: DetectorEvent): Reporter {
  const id = e.reporter_id ?? '';
  const role = e.reporter_role ?? '';
  const key = `${role}|${id}`;
  let r = reporters.get(key);
  if (r === undefined) {
    r = new Reporter(id, role);
    if (reporters.size >= REPORTERS_KEPT) reporters.clear();
    reporters.set(key, r);
  }
  return r;
}

/**
 * The key that proved possession on the event: the reported proof key, or — for the auth server's
 * issuance and refresh of a bound token — the bound key (the token endpoint gave it to the client
 * that proved that key, RFC 9449 §5). '' when none.
 */
function proofKeyOf(e: DetectorEvent): string {
  const proof = e.proof_key_thumbprint ?? '';
  if (proof !== '' || (e.type !== 'issuance' && e.type !== 'refresh')) return proof;
  return e.bound_key_thumbprint ?? '';
}

/** One event as detectors remember it: when, from what, where. Shared by every record that keeps it. */
export class Sighting {
  readonly event_id: string;
  readonly time_ms: number;
  /** type/outcome/reason, as one (interned) string: `refresh/rotated/ok` */
  readonly what: string;
  readonly device_id: string;
  readonly user_agent: string;
  readonly place: Place;
  /** who reported it */
  readonly reporter: Reporter;
  /** the thumbprint of the key that proved possession (DPoP proof or client certificate), '' when none */
  readonly proof_key: string;

  constructor(e: DetectorEvent) {
    this.reporter = reporterOf(e);
    this.proof_key = proofKeyOf(e);
    this.event_id = e.event_id;
    this.time_ms = e.time_ms;
    this.what = e.what ?? `${e.type}/${e.outcome}/${e.reason}`;
    this.device_id = e.device_id;
    this.user_agent = e.user_agent;
    this.place = placeOf(e);
  }

  get ip(): string {
    return this.place.ip;
  }

  get lat(): number {
    return this.place.lat5 / 1e5;
  }

  get lon(): number {
    return this.place.lon5 / 1e5;
  }

  get radius_km(): number {
    return this.place.radius_km;
  }

  evidence(): EvidenceEvent {
    const [type = '', outcome = '', reason = ''] = this.what.split('/');
    return {
      event_id: this.event_id,
      type: type as EvidenceEvent['type'],
      time_ms: this.time_ms,
      ip: this.place.ip,
      country: this.place.country,
      city: this.place.city,
      lat: this.lat,
      lon: this.lon,
      device_id: this.device_id,
      user_agent: this.user_agent,
      outcome,
      reason,
      reporter_id: this.reporter.id,
      reporter_role: this.reporter.role,
    };
  }
}

const sightings = new WeakMap<DetectorEvent, Sighting>();

/** The event's Sighting, made once and shared by every detector that keeps it. */
export function sightingOf(e: DetectorEvent): Sighting {
  let s = sightings.get(e);
  if (s === undefined) {
    s = new Sighting(e);
    sightings.set(e, s);
  }
  return s;
}

/** The latest sighting at each of a few places: one sighting alone, an array from the second place on. */
export type Places = Sighting | Sighting[] | undefined;

export const placesList = (p: Places): Sighting[] => (p === undefined ? [] : Array.isArray(p) ? p : [p]);

/** The latest sighting from each device: one sighting alone, an array from the second device on. */
export type Devices = Sighting | Sighting[] | undefined;

export const devicesList = (d: Devices): Sighting[] => (d === undefined ? [] : Array.isArray(d) ? d : [d]);

/** Seconds since the epoch, as a small integer (unboxed in objects). */
export const toSeconds = (ms: number) => Math.floor(ms / 1000);

/** An access token (jti). */
export class TokenState {
  /** when the token can be forgotten (seconds) */
  untilS: number;
  /** impossible_travel: the latest sighting at each of its last few places */
  place: Places = undefined;
  /** device_reuse: the latest sighting from each device id (at most MAX_DEVICES) */
  devices: Devices = undefined;
  /** device_reuse without device ids: recent sightings from distinct networks */
  networks: Sighting[] | undefined = undefined;

  constructor(untilS: number) {
    this.untilS = untilS;
  }
}

/** One presentation of a refresh token, as refresh_replay judges it (kept while it may be re-judged). */
export class Presentation {
  /** hash of the token presented */
  readonly from: number;
  /** hash of the token it was rotated to; -1 when it was not rotated */
  readonly to: number;
  readonly by: Sighting;
  /** what was reported about it: 0 nothing, 1 a replay, 2 a revoked family presented again */
  reported = 0;

  constructor(from: number, to: number, by: Sighting) {
    this.from = from;
    this.to = to;
    this.by = by;
  }
}

/** A refresh-token family. Token ids are kept as 52-bit hashes (8 bytes, not a string each). */
export class FamilyState {
  lastSeenS: number;
  /** the newest event time of the family's refreshes (ms): how late another one comes is measured from it */
  newestMs = 0;
  /** each token's first rotation, in event-time order: (hash of token, hash of its successor, at ms) triples */
  rotations: number[] | undefined = undefined;
  /** the presentations of the last allowed lateness (and grace window), in event-time order */
  recent: Presentation[] | undefined = undefined;
  /** the newest first rotation's event: who holds the family */
  latestBy: Sighting | undefined = undefined;
  /** when the family was revoked (ms), or -1 */
  revokedAtMs = -1;
  place: Places = undefined;
  devices: Devices = undefined;

  constructor(lastSeenS: number) {
    this.lastSeenS = lastSeenS;
  }
}

/** A session (sid): only its last few places are remembered. */
export class SessionState {
  lastSeenS: number;
  place: Places = undefined;

  constructor(lastSeenS: number) {
    this.lastSeenS = lastSeenS;
  }
}

/**
 * Everything remembered about one tenant + subject. Containers are created on first use. Tokens,
 * families and sessions are keyed by the 52-bit hash of their id (a number, not a 40-byte string:
 * findings take the id from the event at hand; two ids of one subject colliding is a 1-in-2^52 event).
 */
export class SubjectState {
  lastSeenS = 0;
  tokens: Map<number, TokenState> | undefined = undefined;
  families: Map<number, FamilyState> | undefined = undefined;
  sessions: Map<number, SessionState> | undefined = undefined;
  /** networks where this subject's tokens were accepted (interned strings, at most 32) */
  ownerNetworks: string[] | undefined = undefined;
  /** recent rejections counted for bursts per subject */
  rejections: Sighting[] | undefined = undefined;
  /** finding key → when it was last reported (ms of event time) */
  reported: Map<string, number> | undefined = undefined;
  /** state a detector keeps of its own, by detector name (ownState): kept while the subject is */
  own: Map<string, unknown> | undefined = undefined;

  /** tracked keys: tokens + families + sessions */
  get keys(): number {
    return (this.tokens?.size ?? 0) + (this.families?.size ?? 0) + (this.sessions?.size ?? 0);
  }
}

/** Everything remembered about one tenant + source IP. */
export class SourceState {
  rejections: Sighting[] | undefined = undefined;
  reported: Map<string, number> | undefined = undefined;
}

/**
 * What one event's detectors read and update: its subject's state and its source IP's state (the
 * runtime makes the source's on first read: read it only where it is needed).
 */
export interface KeyedState {
  subject: SubjectState;
  source: SourceState;
}

export const newKeyedState = (): KeyedState => ({ subject: new SubjectState(), source: new SourceState() });

/**
 * A detector's own state for a subject, made by `init` on first use: what a new detector keeps beyond
 * the shared records (tokens, families, sessions), without a change here. It lives as long as the
 * subject is tracked; a detector bounds it itself.
 */
export function ownState<T>(s: SubjectState, detector: string, init: () => T): T {
  s.own ??= new Map();
  let state = s.own.get(detector) as T | undefined;
  if (state === undefined) {
    state = init();
    s.own.set(detector, state);
  }
  return state;
}

export function tokenOf(s: SubjectState, jti: string, e: DetectorEvent, lifetimeS: number): TokenState {
  s.tokens ??= new Map();
  const until = e.exp > 0 ? Math.max(e.exp, toSeconds(e.time_ms)) : toSeconds(e.time_ms) + lifetimeS;
  const key = hash52(jti);
  let t = s.tokens.get(key);
  if (t === undefined) {
    t = new TokenState(until);
    s.tokens.set(key, t);
  } else if (until > t.untilS) t.untilS = until;
  return t;
}

/** The record for `id`, created when new; its last-seen time moved forward to the event's. */
function seen<T extends { lastSeenS: number }>(
  records: Map<number, T>,
  id: string,
  e: DetectorEvent,
  create: (seenS: number) => T,
): T {
  const seenS = toSeconds(e.time_ms);
  const key = hash52(id);
  let r = records.get(key);
  if (r === undefined) {
    r = create(seenS);
    records.set(key, r);
  } else if (seenS > r.lastSeenS) r.lastSeenS = seenS;
  return r;
}

export function familyOf(s: SubjectState, id: string, e: DetectorEvent): FamilyState {
  s.families ??= new Map();
  return seen(s.families, id, e, (seenS) => new FamilyState(seenS));
}

export function sessionOf(s: SubjectState, id: string, e: DetectorEvent): SessionState {
  s.sessions ??= new Map();
  return seen(s.sessions, id, e, (seenS) => new SessionState(seenS));
}

/** How long state lives, in seconds of event time. */
export interface Lifetimes {
  /** a jti without `exp` is kept this long after it was last seen */
  tokenS: number;
  /** a refresh family is kept this long after it was last seen (its refresh tokens' lifetime) */
  familyS: number;
  /** a session's last place is kept this long */
  sessionS: number;
  /** windows (bursts, dedup) are kept this long */
  windowS: number;
}

/**
 * Forgets what expired by `nowS` (event time). Returns true when nothing is left worth keeping.
 * A subject's owner networks live as long as its families (they judge revoked tokens later).
 */
export function pruneSubject(s: SubjectState, nowS: number, l: Lifetimes): boolean {
  if (s.tokens !== undefined) {
    for (const [k, t] of s.tokens) if (t.untilS < nowS) s.tokens.delete(k);
    if (s.tokens.size === 0) s.tokens = undefined;
  }
  if (s.families !== undefined) {
    for (const [k, f] of s.families) if (f.lastSeenS + l.familyS < nowS) s.families.delete(k);
    if (s.families.size === 0) s.families = undefined;
  }
  if (s.sessions !== undefined) {
    for (const [k, x] of s.sessions) if (x.lastSeenS + l.sessionS < nowS) s.sessions.delete(k);
    if (s.sessions.size === 0) s.sessions = undefined;
  }
  s.rejections = pruneWindow(s.rejections, nowS, l.windowS);
  s.reported = pruneReported(s.reported, nowS, l.windowS);
  if (s.lastSeenS + l.familyS < nowS) s.ownerNetworks = undefined;
  return (
    s.tokens === undefined &&
    s.families === undefined &&
    s.sessions === undefined &&
    s.rejections === undefined &&
    s.reported === undefined &&
    s.ownerNetworks === undefined
  );
}

export function pruneSource(s: SourceState, nowS: number, l: Lifetimes): boolean {
  s.rejections = pruneWindow(s.rejections, nowS, l.windowS);
  s.reported = pruneReported(s.reported, nowS, l.windowS);
  return s.rejections === undefined && s.reported === undefined;
}

function pruneWindow(list: Sighting[] | undefined, nowS: number, windowS: number) {
  if (list === undefined) return undefined;
  const kept = list.filter((x) => toSeconds(x.time_ms) + windowS >= nowS);
  return kept.length === 0 ? undefined : kept;
}

function pruneReported(reported: Map<string, number> | undefined, nowS: number, windowS: number) {
  if (reported === undefined) return undefined;
  for (const [k, at] of reported) if (toSeconds(at) + windowS < nowS) reported.delete(k);
  return reported.size === 0 ? undefined : reported;
}

/**
 * A 52-bit hash of a string (two FNV-style lanes): retired refresh tokens are remembered as numbers,
 * 8 bytes each in a packed array. A false match needs a 1-in-2^52 collision within one family.
 */
export function hash52(s: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0) * 0x100000 + ((b >>> 0) & 0xfffff);
}
