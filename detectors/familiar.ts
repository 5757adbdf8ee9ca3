/**
 * Familiar places and networks of one subject: where its tokens were used on enough distinct days
 * of the learning period (by default 2 of the last 14 days) — the home line, the office, the VPN
 * provider the user switches on, the cloud proxy of their company. impossible_travel does not take
 * a hop between two familiar ones as travel evidence (a thief's place is, for the victim, new).
 *
 * Kept per subject in one Float64Array (hand-written rather than a Map of objects: at millions of
 * subjects the bytes per subject decide how many one process watches):
 * `[newest day, key, days, key, days, …]`, where a key is a network (its ASN, a positive integer)
 * or a place (a cell of ½° × ½° — about 55 km — as a negative integer), and `days` is a bit mask of
 * the days it was seen on: bit i is `newest day − i` (UTC days since the epoch, of event time). At
 * most MAX_ENTRIES keys; when full, the one seen on the fewest days (then the longest ago) goes.
 * Pure: event time only.
 */

/** How familiarity is learned (the shared thresholds `familiarDays`, `familiarMinDays`). */
export interface FamiliarSettings {
  /** the learning period, in days (0: nothing is ever familiar); at most 31 */
  familiarDays: number;
  /** seen on at least this many distinct days of the period: familiar */
  familiarMinDays: number;
}

/** Keys kept per subject: enough for a life's usual places and networks, bounded against a flood. */
export const MAX_ENTRIES = 16;
const DAY_MS = 86_400_000;

/** The UTC day (since the epoch) of an event time. */
export const dayOf = (timeMs: number): number => Math.floor(timeMs / DAY_MS);

/** The place key of a location: its ½° cell, negative (networks are positive). Matches familiarSql. */
export function placeKey(lat: number, lon: number): number {
  const row = Math.floor((lat + 90) * 2);
  const column = Math.floor((lon + 180) * 2);
  return -(row * 721 + column + 1);
}

/** Network kinds whose addresses are an egress (a VPN, a proxy, a relay), not where a person sits. */
export const EGRESS_KINDS: ReadonlySet<string> = new Set(['hosting', 'anonymizer']);

/**
 * The network key of an address: its ASN when the address is an egress network's (hosting,
 * anonymizer), whose location says nothing; 0 otherwise (then nothing is learned). An ordinary
 * line's ASN is too coarse to be familiar — a thief on the victim's big home ISP elsewhere in the
 * country would be — so for those only the place counts.
 */
export const networkKey = (asn: number, kind: string): number =>
  Number.isInteger(asn) && asn > 0 && EGRESS_KINDS.has(kind) ? asn : 0;

const bitCount = (mask: number): number => {
  let m = mask >>> 0;
  let n = 0;
  while (m !== 0) {
    m &= m - 1;
    n++;
  }
  return n;
};

/** The days' mask of the learning period's length. */
const periodMask = (days: number): number => (days >= 32 ? 0xffffffff : (2 ** days - 1) >>> 0);

/** `familiar` moved forward to `day` as its newest: every mask shifted, what left the period dropped. */
function advance(familiar: Float64Array, day: number, days: number): Float64Array | undefined {
  const shift = day - familiar[0]!;
  const keep = periodMask(days);
  const kept: number[] = [day];
  for (let i = 1; i < familiar.length; i += 2) {
    const mask = shift >= 32 ? 0 : ((familiar[i + 1]! << shift) & keep) >>> 0;
    if (mask !== 0) kept.push(familiar[i]!, mask);
  }
  return kept.length === 1 ? undefined : Float64Array.from(kept);
}

/** Index of the entry to give up when full: the fewest days, then the longest ago. */
function weakest(familiar: Float64Array): number {
  let at = 1;
  for (let i = 3; i < familiar.length; i += 2) {
    const a = familiar[i + 1]!;
    const b = familiar[at + 1]!;
    const [ca, cb] = [bitCount(a), bitCount(b)];
    // bit 0 is the newest day: the higher the lowest set bit, the longer ago it was last seen
    if (ca < cb || (ca === cb && lowestBit(a) > lowestBit(b))) at = i;
  }
  return at;
}

const lowestBit = (mask: number): number => (mask === 0 ? 32 : 31 - Math.clz32(mask & -mask));

/**
 * `familiar` with `key` seen on `day`; the same array when nothing changed. A day older than the
 * period is ignored; a newer one moves the period forward.
 */
export function learn(
  familiar: Float64Array | undefined,
  key: number,
  day: number,
  s: FamiliarSettings,
): Float64Array | undefined {
  if (key === 0 || s.familiarDays <= 0) return familiar;
  let f = familiar;
  if (f !== undefined && day > f[0]!) f = advance(f, day, s.familiarDays);
  if (f === undefined) return Float64Array.of(day, key, 1);
  const age = f[0]! - day;
  if (age >= s.familiarDays || age >= 32) return f;
  const bit = 2 ** age;
  for (let i = 1; i < f.length; i += 2)
    if (f[i] === key) {
      f[i + 1] = (f[i + 1]! | bit) >>> 0;
      return f;
    }
  if ((f.length - 1) / 2 >= MAX_ENTRIES) {
    const at = weakest(f);
    f[at] = key;
    f[at + 1] = bit;
    return f;
  }
  const grown = new Float64Array(f.length + 2);
  grown.set(f);
  grown[f.length] = key;
  grown[f.length + 1] = bit;
  return grown;
}

/**
 * Whether a sighting of `key` on `day` is at a familiar place or network: with that day counted,
 * `key` was seen on at least `familiarMinDays` distinct days of the period ending `day` (so with
 * the default 2: on some other day of the last 14). The sighting itself need not have been learned.
 */
export function isFamiliar(
  familiar: Float64Array | undefined,
  key: number,
  day: number,
  s: FamiliarSettings,
): boolean {
  if (key === 0 || s.familiarDays <= 0) return false;
  if (familiar === undefined) return s.familiarMinDays <= 1;
  const newest = familiar[0]!;
  for (let i = 1; i < familiar.length; i += 2) {
    if (familiar[i] !== key) continue;
    const mask = familiar[i + 1]! >>> 0;
    let days: number;
    if (day >= newest) {
      const shift = day - newest;
      const moved = shift >= s.familiarDays || shift >= 32 ? 0 : (mask << shift) & periodMask(s.familiarDays);
      days = bitCount((moved | 1) >>> 0);
    } else {
      const age = newest - day;
      if (age >= 32) return s.familiarMinDays <= 1;
      const window = (periodMask(Math.min(s.familiarDays, 32 - age)) << age) >>> 0;
      days = bitCount(((mask & window) | (1 << age)) >>> 0);
    }
    return days >= s.familiarMinDays;
  }
  return s.familiarMinDays <= 1;
}

/** What is left of `familiar` on `day`: undefined once nothing was seen within the period. */
export function pruneFamiliar(
  familiar: Float64Array | undefined,
  day: number,
  s: FamiliarSettings,
): Float64Array | undefined {
  if (familiar === undefined) return undefined;
  if (s.familiarDays <= 0 || day - familiar[0]! >= s.familiarDays) return undefined;
  return familiar;
}

/** The keys and their day counts (for evidence and tests): `[key, days seen]`. */
export function familiarEntries(familiar: Float64Array | undefined): [number, number][] {
  if (familiar === undefined) return [];
  const out: [number, number][] = [];
  for (let i = 1; i < familiar.length; i += 2) out.push([familiar[i]!, bitCount(familiar[i + 1]!)]);
  return out;
}
