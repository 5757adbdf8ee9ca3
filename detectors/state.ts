/**
 * Detector state, keyed the way Kafka partitions the stream: one SubjectState per tenant + subject
 * (its tokens, families and sessions) and one SourceState per tenant + source IP.
 *
 * Detectors update the state they are handed and return their findings; the runtime owns each
 * state exclusively, so nothing else ever sees it change. (Copying the state per event, as a
 * persistent structure would, made every event O(state): a service account with 10k live tokens
 * turned the stream quadratic.) The records are small classes with fixed shapes, numbers kept as
 * small integers where they can be, and one Sighting shared by every detector that remembers an
 * event — memory per tracked token is what bounds how many a process can watch. The layout
 * (measured by tools/bench/detect-memory.ts; where the bytes go is in tools/bench/RESULTS.md):
 * - a Sighting is 7 fields (80 bytes): a UUID event id as four 32-bit integers, the time as an
 *   offset below 2^30 ms into its Circumstances' stretch of time, the device id, and Circumstances
 *   (what, user agent, Place, Reporter, the 12-day stretch of time) shared by the events alike; the runtime hands one event at a time to every detector, so the last event's
 *   sighting is the one shared (no table of events);
 * - numbers stay small integers (`| 0`): Math.floor and % on doubles give boxed numbers (16 bytes);
 * - a record's sightings (a token's places, devices and networks; a family's places, devices,
 *   holder, revocation and newest refresh; a session's places) are one field: the one sighting they
 *   all hold in the usual case (one client at one place), with a bit per slot in the spare bits of
 *   its key; a Slots object with each apart only while they differ (TokenState 56 bytes,
 *   FamilyState 72, SessionState 56); no #private methods (each would add a brand to every instance);
 * - a subject's tokens, families and sessions are the record alone while there is one, an
 *   exact-size array up to 8 (keys as two small integers, searched in place), a Map beyond; one
 *   place, device or presentation is kept alone, an array only from the second on;
 * - a Presentation (64 bytes) keeps its two token hashes as four small integers, what was
 *   reported about it in the spare bits of one.
 */
import { dayOf, type FamiliarSettings, pruneFamiliar } from './familiar.ts';
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
  /** the autonomous system announcing the address (0 unknown) */
  readonly asn: number;
  /** hosting / anonymizer / mobile / residential / satellite where IP intelligence says it; '' unknown */
  readonly network_kind: string;

  constructor(e: DetectorEvent) {
    this.ip = e.ip;
    this.country = e.country;
    this.city = e.city;
    this.lat5 = Math.round(e.lat * 1e5);
    this.lon5 = Math.round(e.lon * 1e5);
    this.radius_km = e.geo_radius_km;
    this.asn = e.asn ?? 0;
    this.network_kind = e.network_kind ?? '';
  }

  matches(e: DetectorEvent): boolean {
    return (
      this.ip === e.ip &&
      this.country === e.country &&
      this.city === e.city &&
      this.lat5 === Math.round(e.lat * 1e5) &&
      this.lon5 === Math.round(e.lon * 1e5) &&
      this.radius_km === e.geo_radius_km &&
      this.asn === (e.asn ?? 0) &&
      this.network_kind === (e.network_kind ?? '')
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

const SHARED_KEPT = 100_000;
const sharedStrings = new Map<string, string>();

/** One copy of a string that many records keep (a network, say), instead of one per record. */
export function shared(s: string): string {
  const known = sharedStrings.get(s);
  if (known !== undefined) return known;
  if (sharedStrings.size >= SHARED_KEPT) sharedStrings.clear();
  sharedStrings.set(s, s);
  return s;
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

/**
 * What many events share (what happened, the user agent, where, who reported it, the proof key,
 * where the device id came from, and the stretch of time they fall in): one object per combination.
 */
export class Circumstances {
  /**
   * where the events' stretch of time begins (ms: a multiple of TIME_STRETCH_MS), so that a
   * sighting keeps its time as one small integer after it; 0 for a time kept whole (a fraction)
   */
  readonly baseMs: number;
  /** type/outcome/reason, as one (interned) string: `refresh/rotated/ok` */
  readonly what: string;
  readonly user_agent: string;
  readonly place: Place;
  readonly reporter: Reporter;
  /** the thumbprint of the key that proved possession (DPoP proof or client certificate), '' when none */
  readonly proof_key: string;
  /** where the device id came from: `claim` / `auth_server` (strong), `header` / `cookie` / '' (weak) */
  readonly device_source: string;

  constructor(
    baseMs: number,
    what: string,
    user_agent: string,
    place: Place,
    reporter: Reporter,
    proof_key: string,
    device_source: string,
  ) {
    this.baseMs = baseMs;
    this.what = what;
    this.user_agent = user_agent;
    this.place = place;
    this.reporter = reporter;
    this.proof_key = proof_key;
    this.device_source = device_source;
  }

  /** Whether these are the given circumstances (the key alone could be forged by a field holding a NUL). */
  matches(
    baseMs: number,
    what: string,
    user_agent: string,
    place: Place,
    reporter: Reporter,
    proof_key: string,
    device_source: string,
  ): boolean {
    return (
      this.baseMs === baseMs &&
      this.place === place &&
      this.what === what &&
      this.user_agent === user_agent &&
      this.proof_key === proof_key &&
      this.device_source === device_source &&
      this.reporter.id === reporter.id &&
      this.reporter.role === reporter.role
    );
  }
}

const CIRCUMSTANCES_KEPT = 100_000;
const circumstances = new Map<string, Circumstances>();

/**
 * How long a stretch of time is (ms, about 12 days): a sighting's time is its offset into its
 * circumstances' stretch, a small integer below 2^30.
 */
const TIME_STRETCH_MS = 2 ** 30;

/** Where the stretch of time holding `ms` begins; 0 when the time is kept whole (a fraction, beyond 2^53). */
const stretchOf = (ms: number) =>
  Number.isSafeInteger(ms) ? Math.floor(ms / TIME_STRETCH_MS) * TIME_STRETCH_MS : 0;

function circumstancesOf(e: DetectorEvent, baseMs: number): Circumstances {
  const what = e.what ?? `${e.type}/${e.outcome}/${e.reason}`;
  const place = placeOf(e);
  const reporter = reporterOf(e);
  const proofKey = proofKeyOf(e);
  const source = e.device_id_source ?? '';
  const key = `${baseMs}\u0000${e.ip}\u0000${what}\u0000${reporter.role}\u0000${reporter.id}\u0000${proofKey}\u0000${source}\u0000${e.user_agent}`;
  const known = circumstances.get(key);
  if (known?.matches(baseMs, what, e.user_agent, place, reporter, proofKey, source)) return known;
  const c = new Circumstances(baseMs, what, e.user_agent, place, reporter, proofKey, source);
  if (circumstances.size >= CIRCUMSTANCES_KEPT) circumstances.clear();
  circumstances.set(key, c);
  return c;
}

/** A lowercase UUID: the usual event id, kept as four 32-bit integers (unboxed) instead of a 36-character string. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
const TWO_31 = 2 ** 31;

/**
 * One event as detectors remember it: when, from what, where. Shared by every record that keeps it.
 * A fixed record of small integers and two references (80 bytes): the event id as four 32-bit
 * integers when it is a lowercase UUID (else the string, in `id0`), the time as its offset into the
 * stretch of time of its circumstances, the device id, and the circumstances it shares with other events.
 */
export class Sighting {
  readonly id0: number | string;
  readonly id1: number;
  readonly id2: number;
  readonly id3: number;
  /**
   * time_ms = circumstances.baseMs + offsetMs: a small integer (unboxed) into the stretch of time of
   * its circumstances; the time itself when that is not a whole number of ms
   */
  readonly offsetMs: number;
  readonly device_id: string;
  readonly circumstances: Circumstances;

  constructor(e: DetectorEvent) {
    const id = e.event_id;
    if (UUID.test(id)) {
      this.id0 = Number.parseInt(id.slice(0, 8), 16) | 0;
      this.id1 = Number.parseInt(id.slice(9, 13) + id.slice(14, 18), 16) | 0;
      this.id2 = Number.parseInt(id.slice(19, 23) + id.slice(24, 28), 16) | 0;
      this.id3 = Number.parseInt(id.slice(28), 16) | 0;
    } else {
      this.id0 = id;
      this.id1 = 0;
      this.id2 = 0;
      this.id3 = 0;
    }
    const baseMs = stretchOf(e.time_ms);
    // `| 0`: arithmetic on doubles gives a boxed number even when it is whole; a small integer is not boxed
    this.offsetMs = baseMs === 0 && !Number.isSafeInteger(e.time_ms) ? e.time_ms : (e.time_ms - baseMs) | 0;
    this.device_id = e.device_id;
    this.circumstances = circumstancesOf(e, baseMs);
  }

  get event_id(): string {
    if (typeof this.id0 === 'string') return this.id0;
    const a = hex8(this.id0);
    const b = hex8(this.id1);
    const c = hex8(this.id2);
    return `${a}-${b.slice(0, 4)}-${b.slice(4)}-${c.slice(0, 4)}-${c.slice(4)}${hex8(this.id3)}`;
  }

  /** Whether both are sightings of the same event (the same event id). */
  sameEvent(other: Sighting): boolean {
    return (
      this.id0 === other.id0 && this.id1 === other.id1 && this.id2 === other.id2 && this.id3 === other.id3
    );
  }

  get time_ms(): number {
    return this.circumstances.baseMs + this.offsetMs;
  }

  /** type/outcome/reason, as one (interned) string: `refresh/rotated/ok` */
  get what(): string {
    return this.circumstances.what;
  }

  get user_agent(): string {
    return this.circumstances.user_agent;
  }

  /** the thumbprint of the key that proved possession (DPoP proof or client certificate), '' when none */
  get proof_key(): string {
    return this.circumstances.proof_key;
  }

  /** where the device id came from: `claim` / `auth_server` (strong), `header` / `cookie` / '' (weak) */
  get device_source(): string {
    return this.circumstances.device_source;
  }

  get place(): Place {
    return this.circumstances.place;
  }

  /** who reported it */
  get reporter(): Reporter {
    return this.circumstances.reporter;
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
    const { place, reporter } = this;
    return {
      event_id: this.event_id,
      type: type as EvidenceEvent['type'],
      time_ms: this.time_ms,
      ip: place.ip,
      country: place.country,
      city: place.city,
      lat: this.lat,
      lon: this.lon,
      device_id: this.device_id,
      user_agent: this.user_agent,
      outcome,
      reason,
      reporter_id: reporter.id,
      reporter_role: reporter.role,
    };
  }
}

/**
 * The event the detectors are at and its Sighting. The runtime hands each event to every detector in
 * turn, one event at a time, so remembering the last one shares the sighting as well as a WeakMap of
 * events did — whose table grew with the events seen between two full collections (8 MB at 200k
 * tokens, more than a token's own record) and cost a lookup and an insertion per event.
 */
let lastEvent: DetectorEvent | undefined;
let lastSighting: Sighting | undefined;

/** The event's Sighting, made once and shared by every detector that keeps it. */
export function sightingOf(e: DetectorEvent): Sighting {
  if (e === lastEvent && lastSighting !== undefined) return lastSighting;
  const s = new Sighting(e);
  lastEvent = e;
  lastSighting = s;
  return s;
}

/** The latest sighting at each of a few places: one sighting alone, an array from the second place on. */
export type Places = Sighting | Sighting[] | undefined;

export const placesList = (p: Places): Sighting[] => (p === undefined ? [] : Array.isArray(p) ? p : [p]);

/** The latest sighting from each device: one sighting alone, an array from the second device on. */
export type Devices = Sighting | Sighting[] | undefined;

export const devicesList = (d: Devices): Sighting[] => (d === undefined ? [] : Array.isArray(d) ? d : [d]);

/**
 * Seconds since the epoch, as a small integer (unboxed in objects: Math.floor of a double gives a
 * boxed number even when it is whole; `| 0` makes it a small integer, for any time before 2038).
 */
export function toSeconds(ms: number): number {
  const s = Math.floor(ms / 1000);
  return s >= -TWO_31 && s < TWO_31 ? s | 0 : s;
}

/** The slots a record keeps sightings in (Keyed.slot): bit numbers above the key's low 20 bits. */
const PLACE = 0;
const DEVICES = 1;
const NETWORKS = 2;
const LATEST_BY = 3;
/** not a slot of its own: set when a family's newest refresh time is its one sighting's time */
const NEWEST = 4;
const LOW_BITS = 0xfffff;
const SLOT_SHIFT = 20;

/**
 * A record's sightings when its slots hold more than one and the same sighting: each slot apart
 * (and, for a family, when it was revoked: -1 until then, and its newest refresh's time: 0 until one).
 */
class Slots {
  place: Places = undefined;
  devices: Devices = undefined;
  networks: Sighting[] | undefined = undefined;
  latestBy: Sighting | undefined = undefined;
  revokedAtMs = -1;
  newestMs = 0;

  get(slot: number): Places | Sighting[] {
    return slot === PLACE
      ? this.place
      : slot === DEVICES
        ? this.devices
        : slot === NETWORKS
          ? this.networks
          : this.latestBy;
  }

  set(slot: number, v: Places | Sighting[]) {
    if (slot === PLACE) this.place = v;
    else if (slot === DEVICES) this.devices = v;
    else if (slot === NETWORKS) this.networks = v as Sighting[] | undefined;
    else this.latestBy = v as Sighting | undefined;
  }

  /**
   * The one sighting every slot that holds something holds (none a list) and the slots' bits, when
   * they could be kept compact again; undefined when not (two sightings, a list, a revocation).
   */
  single(): { one: Sighting | undefined; bits: number } | undefined {
    if (this.revokedAtMs !== -1) return undefined;
    let one: Sighting | undefined;
    let bits = 0;
    for (let slot = PLACE; slot <= LATEST_BY; slot++) {
      const v = this.get(slot);
      if (v === undefined) continue;
      if (!(v instanceof Sighting) || (one !== undefined && v !== one)) return undefined;
      one = v;
      bits |= 1 << slot;
    }
    if (this.newestMs === 0) return { one, bits };
    if (one === undefined || one.time_ms !== this.newestMs) return undefined;
    return { one, bits: bits | (1 << NEWEST) };
  }
}

/**
 * A record kept by the 52-bit hash of its id (tokenOf, familyOf, sessionOf), the hash held as two
 * small integers (unboxed): its top 32 bits and its low 20 bits.
 *
 * Its sightings (the latest at each place, from each device, its recent networks, a family's latest
 * rotation) are one field: usually every slot that holds one holds the same sighting (one client, at
 * one place, from one device), kept once with a bit per slot above the key's low 20 bits; a Slots
 * object with each slot apart otherwise, until they are one sighting again.
 */
abstract class Keyed {
  readonly keyHigh: number;
  /** the key's low 20 bits, and above them which slots hold `#seen` when it is one sighting */
  #lowAndSlots: number;
  #seen: Sighting | Slots | undefined = undefined;

  constructor(key: number) {
    this.keyHigh = keyHighOf(key);
    this.#lowAndSlots = (key % 0x100000) | 0;
  }

  get keyLow(): number {
    return this.#lowAndSlots & LOW_BITS;
  }

  get key(): number {
    return (this.keyHigh >>> 0) * 0x100000 + this.keyLow;
  }

  protected slot(slot: number): Places | Sighting[] {
    const seen = this.#seen;
    if (seen instanceof Slots) return seen.get(slot);
    return (this.#lowAndSlots >> (SLOT_SHIFT + slot)) & 1 ? seen : undefined;
  }

  protected setSlot(slot: number, v: Places | Sighting[]) {
    const seen = this.#seen;
    if (seen instanceof Slots) {
      seen.set(slot, v);
      this.compact(seen);
      return;
    }
    const bit = 1 << (SLOT_SHIFT + slot);
    if (v === undefined) {
      this.#lowAndSlots &= ~bit;
      if (this.#lowAndSlots >> SLOT_SHIFT === 0) this.#seen = undefined;
    } else if (v instanceof Sighting && (v === seen || (this.#lowAndSlots & ~LOW_BITS & ~bit) === 0)) {
      // the same sighting, or this slot alone held the one there was: still one sighting
      this.#seen = v;
      this.#lowAndSlots |= bit;
    } else {
      const slots = this.spread();
      slots.set(slot, v);
    }
  }

  protected get newestTimeMs(): number {
    const seen = this.#seen;
    if (seen instanceof Slots) return seen.newestMs;
    return (this.#lowAndSlots >> (SLOT_SHIFT + NEWEST)) & 1 ? (seen as Sighting).time_ms : 0;
  }

  protected set newestTimeMs(ms: number) {
    const seen = this.#seen;
    if (seen instanceof Slots) {
      seen.newestMs = ms;
      this.compact(seen);
      return;
    }
    const bit = 1 << (SLOT_SHIFT + NEWEST);
    if (ms === 0) {
      this.#lowAndSlots &= ~bit;
      if (this.#lowAndSlots >> SLOT_SHIFT === 0) this.#seen = undefined;
    } else if (seen !== undefined && seen.time_ms === ms) this.#lowAndSlots |= bit;
    else this.spread().newestMs = ms;
  }

  protected get revokedMs(): number {
    const seen = this.#seen;
    return seen instanceof Slots ? seen.revokedAtMs : -1;
  }

  protected set revokedMs(ms: number) {
    const seen = this.#seen;
    if (seen instanceof Slots) {
      seen.revokedAtMs = ms;
      this.compact(seen);
    } else if (ms !== -1) this.spread().revokedAtMs = ms;
  }

  // methods TypeScript-private, not #private: a #private method gives each instance a brand (8 bytes)
  /** The slots apart, from the one sighting they held. */
  private spread(): Slots {
    const slots = new Slots();
    const seen = this.#seen as Sighting | undefined;
    for (let slot = PLACE; slot <= LATEST_BY; slot++)
      if ((this.#lowAndSlots >> (SLOT_SHIFT + slot)) & 1) slots.set(slot, seen);
    if ((this.#lowAndSlots >> (SLOT_SHIFT + NEWEST)) & 1) slots.newestMs = (seen as Sighting).time_ms;
    this.#seen = slots;
    this.#lowAndSlots &= LOW_BITS;
    return slots;
  }

  /** Back to one sighting and its bits when the slots hold no more than that. */
  private compact(slots: Slots) {
    const single = slots.single();
    if (single === undefined) return;
    this.#seen = single.one;
    this.#lowAndSlots = (this.#lowAndSlots & LOW_BITS) | (single.bits << SLOT_SHIFT);
  }
}

const keyHighOf = (key: number) => Math.floor(key / 0x100000) | 0;

/**
 * One subject's tokens, families or sessions: the record alone while there is one (most subjects
 * hold a single session or family: no array); an array of exactly its size, searched in place,
 * while there are at most SMALL_TABLE (a handful: no Map, no boxed keys); a Map by hash beyond (a
 * service account's 10k live tokens stay O(1) per event).
 */
export type Table<T extends Keyed> = T | T[] | Map<number, T> | undefined;

const SMALL_TABLE = 8;

const isMap = <T extends Keyed>(t: T | Map<number, T>): t is Map<number, T> => t instanceof Map;

export function tableGet<T extends Keyed>(t: Table<T>, key: number): T | undefined {
  if (t === undefined) return undefined;
  const high = keyHighOf(key);
  const low = (key % 0x100000) | 0;
  if (Array.isArray(t)) {
    for (const r of t) if (r.keyLow === low && r.keyHigh === high) return r;
    return undefined;
  }
  if (isMap(t)) return t.get(key);
  return t.keyLow === low && t.keyHigh === high ? t : undefined;
}

/** The table with `r` (not in it yet) added. */
function tableAdd<T extends Keyed>(t: Table<T>, r: T): Table<T> {
  if (t === undefined) return r;
  if (Array.isArray(t)) {
    if (t.length < SMALL_TABLE) return t.concat(r); // exact size (a spread or a push leaves spare capacity)
    return new Map([...t, r].map((x) => [x.key, x]));
  }
  if (isMap(t)) return t.set(r.key, r);
  return [t, r];
}

export const tableSize = (t: Table<Keyed>): number =>
  t === undefined ? 0 : Array.isArray(t) ? t.length : isMap(t) ? t.size : 1;

/** The table with only the records `keep` holds to; undefined when none is left. */
function tablePrune<T extends Keyed>(t: Table<T>, keep: (r: T) => boolean): Table<T> {
  if (t === undefined) return undefined;
  if (!Array.isArray(t) && !isMap(t)) return keep(t) ? t : undefined;
  const kept = Array.isArray(t) ? t.filter(keep) : [...t.values()].filter(keep);
  if (kept.length === 0) return undefined;
  if (kept.length === 1) return kept[0];
  if (kept.length <= SMALL_TABLE) return kept;
  if (Array.isArray(t)) return kept;
  for (const [k, r] of t) if (!keep(r)) t.delete(k);
  return t;
}

/** An access token (jti). */
export class TokenState extends Keyed {
  /** when the token can be forgotten (seconds) */
  untilS: number;

  constructor(key: number, untilS: number) {
    super(key);
    this.untilS = untilS;
  }

  /** impossible_travel: the latest sighting at each of its last few places */
  get place(): Places {
    return this.slot(PLACE) as Places;
  }

  set place(v: Places) {
    this.setSlot(PLACE, v);
  }

  /** device_reuse: the latest sighting from each device id (at most MAX_DEVICES) */
  get devices(): Devices {
    return this.slot(DEVICES) as Devices;
  }

  set devices(v: Devices) {
    this.setSlot(DEVICES, v);
  }

  /** device_reuse without device ids: recent sightings from distinct networks */
  get networks(): Sighting[] | undefined {
    return this.slot(NETWORKS) as Sighting[] | undefined;
  }

  set networks(v: Sighting[] | undefined) {
    this.setSlot(NETWORKS, v);
  }
}

/** The top 32 bits of a 52-bit hash as a small integer (-1 for -1, "none"). */
const hashHigh = (h: number) => (h < 0 ? -1 : Math.floor(h / 0x100000) | 0);
/** The low 20 bits of a 52-bit hash (-1 for -1, "none"). */
const hashLow = (h: number) => (h < 0 ? -1 : (h % 0x100000) | 0);
const joinHash = (high: number, low: number) => (low < 0 ? -1 : (high >>> 0) * 0x100000 + low);

/** A presentation's `to` low bits (plus one: 21 bits) and, above them, what was reported. */
const TO_LOW_BITS = 0x1fffff;
const REPORTED_SHIFT = 21;

/**
 * One presentation of a refresh token, as refresh_replay judges it (kept while it may be re-judged).
 * The two hashes are kept as small integers (unboxed), not as two boxed numbers.
 */
export class Presentation {
  readonly #fromHigh: number;
  readonly #fromLow: number;
  readonly #toHigh: number;
  /** the low 20 bits of `to` plus one (0 for none), and above them what was reported (`reported`) */
  #toLowAndReported: number;
  readonly by: Sighting;

  constructor(from: number, to: number, by: Sighting) {
    this.#fromHigh = hashHigh(from);
    this.#fromLow = hashLow(from);
    this.#toHigh = hashHigh(to);
    this.#toLowAndReported = hashLow(to) + 1;
    this.by = by;
  }

  /** what was reported about it: 0 nothing, 1 a replay, 2 a revoked family presented again */
  get reported(): number {
    return this.#toLowAndReported >> REPORTED_SHIFT;
  }

  set reported(what: number) {
    this.#toLowAndReported = (this.#toLowAndReported & TO_LOW_BITS) | (what << REPORTED_SHIFT);
  }

  /** hash of the token presented; -1 when none was */
  get from(): number {
    return joinHash(this.#fromHigh, this.#fromLow);
  }

  /** hash of the token it was rotated to; -1 when it was not rotated */
  get to(): number {
    return joinHash(this.#toHigh, (this.#toLowAndReported & TO_LOW_BITS) - 1);
  }
}

/** The presentations a family keeps: one alone, an array from the second on. */
export type Presentations = Presentation | Presentation[] | undefined;

export const presentationsList = (p: Presentations): Presentation[] =>
  p === undefined ? [] : Array.isArray(p) ? p : [p];

/** A refresh-token family. Token ids are kept as 52-bit hashes (8 bytes, not a string each). */
export class FamilyState extends Keyed {
  lastSeenS: number;
  /** each token's first rotation, in event-time order: (hash of token, hash of its successor, at ms) triples */
  rotations: number[] | undefined = undefined;
  /** the presentations of the last allowed lateness (and grace window), in event-time order */
  recent: Presentations = undefined;

  constructor(key: number, lastSeenS: number) {
    super(key);
    this.lastSeenS = lastSeenS;
  }

  /** the newest first rotation's event: who holds the family */
  get latestBy(): Sighting | undefined {
    return this.slot(LATEST_BY) as Sighting | undefined;
  }

  set latestBy(v: Sighting | undefined) {
    this.setSlot(LATEST_BY, v);
  }

  /** when the family was revoked (ms), or -1 */
  get revokedAtMs(): number {
    return this.revokedMs;
  }

  set revokedAtMs(ms: number) {
    this.revokedMs = ms;
  }

  /** impossible_travel: the latest sighting at each of its last few places */
  get place(): Places {
    return this.slot(PLACE) as Places;
  }

  set place(v: Places) {
    this.setSlot(PLACE, v);
  }

  /** device_reuse: the latest sighting from each device id */
  get devices(): Devices {
    return this.slot(DEVICES) as Devices;
  }

  set devices(v: Devices) {
    this.setSlot(DEVICES, v);
  }

  /** the newest event time of the family's refreshes (ms): how late another one comes is measured from it */
  get newestMs(): number {
    return this.newestTimeMs;
  }

  set newestMs(ms: number) {
    this.newestTimeMs = ms;
  }
}

/** A session (sid): only its last few places are remembered. */
export class SessionState extends Keyed {
  lastSeenS: number;

  constructor(key: number, lastSeenS: number) {
    super(key);
    this.lastSeenS = lastSeenS;
  }

  get place(): Places {
    return this.slot(PLACE) as Places;
  }

  set place(v: Places) {
    this.setSlot(PLACE, v);
  }
}

/**
 * Everything remembered about one tenant + subject. Containers are created on first use. Tokens,
 * families and sessions are keyed by the 52-bit hash of their id (a number, not a 40-byte string:
 * findings take the id from the event at hand; two ids of one subject colliding is a 1-in-2^52 event),
 * in a Table (a short array while there are few).
 */
export class SubjectState {
  lastSeenS = 0;
  tokens: Table<TokenState> = undefined;
  families: Table<FamilyState> = undefined;
  sessions: Table<SessionState> = undefined;
  /** networks where this subject's tokens were accepted (interned strings, at most 32) */
  ownerNetworks: string[] | undefined = undefined;
  /** the places and networks this subject used on the days of the learning period (familiar.ts) */
  familiar: number | number[] | undefined = undefined;
  /** the newest day familiar.ts learned from (UTC days since the epoch) */
  familiarDay = 0;
  /** recent rejections counted for bursts per subject */
  rejections: Sighting[] | undefined = undefined;
  /** finding key → when it was last reported (ms of event time) */
  reported: Map<string, number> | undefined = undefined;
  /** state a detector keeps of its own, by detector name (ownState): kept while the subject is */
  own: Map<string, unknown> | undefined = undefined;

  /** tracked keys: tokens + families + sessions */
  get keys(): number {
    return tableSize(this.tokens) + tableSize(this.families) + tableSize(this.sessions);
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
  const until = e.exp > 0 ? Math.max(e.exp, toSeconds(e.time_ms)) : toSeconds(e.time_ms) + lifetimeS;
  const key = hash52(jti);
  let t = tableGet(s.tokens, key);
  if (t === undefined) {
    t = new TokenState(key, until);
    s.tokens = tableAdd(s.tokens, t);
  } else if (until > t.untilS) t.untilS = until;
  return t;
}

/** The token `jti` of the subject, if it is tracked. */
export const trackedToken = (s: SubjectState, jti: string): TokenState | undefined =>
  tableGet(s.tokens, hash52(jti));

/** The record for `id` in `records`, created when new; its last-seen time moved forward to the event's. */
function seen<T extends Keyed & { lastSeenS: number }>(
  records: Table<T>,
  id: string,
  e: DetectorEvent,
  create: (key: number, seenS: number) => T,
): { record: T; records: Table<T> } {
  const seenS = toSeconds(e.time_ms);
  const key = hash52(id);
  const r = tableGet(records, key);
  if (r === undefined) {
    const record = create(key, seenS);
    return { record, records: tableAdd(records, record) };
  }
  if (seenS > r.lastSeenS) r.lastSeenS = seenS;
  return { record: r, records };
}

export function familyOf(s: SubjectState, id: string, e: DetectorEvent): FamilyState {
  const { record, records } = seen(s.families, id, e, (key, seenS) => new FamilyState(key, seenS));
  s.families = records;
  return record;
}

export function sessionOf(s: SubjectState, id: string, e: DetectorEvent): SessionState {
  const { record, records } = seen(s.sessions, id, e, (key, seenS) => new SessionState(key, seenS));
  s.sessions = records;
  return record;
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
  /** familiar places and networks are learned over this many days, and kept as long */
  familiar: FamiliarSettings;
}

/**
 * Forgets what expired by `nowS` (event time). Returns true when nothing is left worth keeping.
 * A subject's owner networks live as long as its families (they judge revoked tokens later).
 */
export function pruneSubject(s: SubjectState, nowS: number, l: Lifetimes): boolean {
  s.tokens = tablePrune(s.tokens, (t) => t.untilS >= nowS);
  s.families = tablePrune(s.families, (f) => f.lastSeenS + l.familyS >= nowS);
  s.sessions = tablePrune(s.sessions, (x) => x.lastSeenS + l.sessionS >= nowS);
  s.rejections = pruneWindow(s.rejections, nowS, l.windowS);
  s.reported = pruneReported(s.reported, nowS, l.windowS);
  if (s.lastSeenS + l.familyS < nowS) s.ownerNetworks = undefined;
  pruneFamiliar(s, dayOf(nowS * 1000), l.familiar);
  return (
    s.tokens === undefined &&
    s.families === undefined &&
    s.sessions === undefined &&
    s.rejections === undefined &&
    s.reported === undefined &&
    s.ownerNetworks === undefined &&
    s.familiar === undefined
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
