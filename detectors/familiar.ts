/**
 * Familiar places and networks of one subject: where its tokens were used on enough distinct days
 * of the learning period (by default 2 of the last 14 days) — the home line, the office, the VPN
 * provider the user switches on, the cloud proxy of their company. impossible_travel does not take
 * a hop between two familiar ones as travel evidence (a thief's place is, for the victim, new).
 *
 * Kept per subject as numbers, hand-packed (a Map or a typed array per subject cost 150–300 bytes
 * each, more than the tokens it watches — bench:detect's memory figures): each key with the days
 * it was seen on is one double, `code × 2^20 + days`, where `days` is a bit mask (bit i: the
 * subject's newest day − i, UTC days of event time) and `code` is a network (an egress network's
 * ASN, below 2^32) or a place (a ½° cell, about 55 km: 2^32 + its index). One key is kept as the
 * number alone (16 bytes), more as an array of doubles; the newest day is the subject's
 * `familiarDay`. At most MAX_ENTRIES keys: when full, the one seen on the fewest days (then the
 * longest ago) goes. Pure: event time only.
 */

/** How familiarity is learned (the shared thresholds `familiarDays`, `familiarMinDays`). */
export interface FamiliarSettings {
  /** the learning period, in days (0: nothing is ever familiar); at most MAX_FAMILIAR_DAYS */
  familiarDays: number;
  /** seen on at least this many distinct days of the period (the day judged counted): familiar */
  familiarMinDays: number;
}

/** The longest learning period: the day mask's bits (2^33 codes × 2^20 days stay below 2^53). */
export const MAX_FAMILIAR_DAYS = 20;
/** Keys kept per subject: enough for a life's usual places and networks, bounded against a flood. */
export const MAX_ENTRIES = 16;

/** What a subject keeps (SubjectState's fields). */
export interface FamiliarHolder {
  familiar: number | number[] | undefined;
  /** the newest day learned (UTC days since the epoch) */
  familiarDay: number;
}

const DAYS = 2 ** MAX_FAMILIAR_DAYS;
const PLACE = 2 ** 32;
const DAY_MS = 86_400_000;

/** The UTC day (since the epoch) of an event time. */
export const dayOf = (timeMs: number): number => Math.floor(timeMs / DAY_MS);

/** The place key of a location: its ½° cell (2^32 + index; networks are below 2^32). Matches familiarSql. */
export function placeKey(lat: number, lon: number): number {
  const row = Math.floor((lat + 90) * 2);
  const column = Math.floor((lon + 180) * 2);
  return PLACE + row * 721 + column;
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
  Number.isInteger(asn) && asn > 0 && asn < PLACE && EGRESS_KINDS.has(kind) ? asn : 0;

const codeOf = (entry: number) => Math.floor(entry / DAYS);
const maskOf = (entry: number) => entry % DAYS;
const entry = (code: number, mask: number) => code * DAYS + mask;

const bitCount = (mask: number): number => {
  let m = mask >>> 0;
  let n = 0;
  while (m !== 0) {
    m &= m - 1;
    n++;
  }
  return n;
};
const lowestBit = (mask: number): number => (mask === 0 ? 32 : 31 - Math.clz32(mask & -mask));
/** The mask of the period's days. */
const periodMask = (days: number): number => (2 ** Math.min(days, MAX_FAMILIAR_DAYS) - 1) >>> 0;

const entriesOf = (f: number | number[] | undefined): number[] =>
  f === undefined ? [] : typeof f === 'number' ? [f] : f;
/**
 * The entries as kept: none, one number, or an array of the exact size — slice() copies exactly,
 * while an array built by push() or spread has room to spare (3 entries: 72 bytes sliced, 208 spread).
 */
const stored = (list: number[]): number | number[] | undefined =>
  list.length === 0 ? undefined : list.length === 1 ? list[0] : list.slice();

/** Moves the period forward to `day` as the newest: every mask shifted, what left the period dropped. */
function advance(h: FamiliarHolder, day: number, days: number) {
  const shift = day - h.familiarDay;
  const keep = periodMask(days);
  const kept: number[] = [];
  for (const e of entriesOf(h.familiar)) {
    const mask = shift >= days ? 0 : ((maskOf(e) << shift) & keep) >>> 0;
    if (mask !== 0) kept.push(entry(codeOf(e), mask));
  }
  h.familiar = stored(kept);
  h.familiarDay = day;
}

/** Index of the entry to give up when full: the fewest days, then the longest ago. */
function weakest(list: number[]): number {
  let at = 0;
  for (let i = 1; i < list.length; i++) {
    const [a, b] = [maskOf(list[i]!), maskOf(list[at]!)];
    const [ca, cb] = [bitCount(a), bitCount(b)];
    // bit 0 is the newest day: the higher the lowest set bit, the longer ago it was last seen
    if (ca < cb || (ca === cb && lowestBit(a) > lowestBit(b))) at = i;
  }
  return at;
}

/** Learns that the subject used `key` on `day`. A day older than the period is ignored; a newer one moves it forward. */
export function learn(h: FamiliarHolder, key: number, day: number, s: FamiliarSettings): void {
  const days = Math.min(s.familiarDays, MAX_FAMILIAR_DAYS);
  if (key === 0 || days <= 0) return;
  if (h.familiar === undefined) {
    h.familiar = entry(key, 1);
    h.familiarDay = day;
    return;
  }
  if (day > h.familiarDay) advance(h, day, days);
  if (h.familiar === undefined) {
    h.familiar = entry(key, 1);
    return;
  }
  const age = h.familiarDay - day;
  if (age >= days) return;
  const bit = 2 ** age;
  const list = entriesOf(h.familiar);
  for (let i = 0; i < list.length; i++)
    if (codeOf(list[i]!) === key) {
      const mask = (maskOf(list[i]!) | bit) >>> 0;
      if (typeof h.familiar === 'number') h.familiar = entry(key, mask);
      else list[i] = entry(key, mask);
      return;
    }
  if (list.length >= MAX_ENTRIES) {
    list[weakest(list)] = entry(key, bit);
    return;
  }
  h.familiar = stored([...list, entry(key, bit)]);
}

/** Forgets that the subject used `key` on `day` (the other end of a copied token's pair). */
export function forget(h: FamiliarHolder, key: number, day: number): void {
  const age = h.familiarDay - day;
  if (key === 0 || h.familiar === undefined || age < 0 || age >= MAX_FAMILIAR_DAYS) return;
  const list = entriesOf(h.familiar);
  const kept: number[] = [];
  for (const e of list) {
    const mask = codeOf(e) === key ? (maskOf(e) & ~(2 ** age)) >>> 0 : maskOf(e);
    if (mask !== 0) kept.push(entry(codeOf(e), mask));
  }
  h.familiar = stored(kept);
}

/**
 * Whether a sighting of `key` on `day` is at a familiar place or network: with that day counted,
 * `key` was seen on at least `familiarMinDays` distinct days of the period ending `day` (so with
 * the default 2: on some other day of the last 14). The sighting itself need not have been learned.
 */
export function isFamiliar(h: FamiliarHolder, key: number, day: number, s: FamiliarSettings): boolean {
  const days = Math.min(s.familiarDays, MAX_FAMILIAR_DAYS);
  if (key === 0 || days <= 0) return false;
  for (const e of entriesOf(h.familiar)) {
    if (codeOf(e) !== key) continue;
    const mask = maskOf(e);
    let seen: number;
    if (day >= h.familiarDay) {
      const shift = day - h.familiarDay;
      const moved = shift >= days ? 0 : (mask << shift) & periodMask(days);
      seen = bitCount((moved | 1) >>> 0);
    } else {
      const age = h.familiarDay - day;
      if (age >= MAX_FAMILIAR_DAYS) return s.familiarMinDays <= 1;
      const window = (periodMask(Math.min(days, MAX_FAMILIAR_DAYS - age)) << age) >>> 0;
      seen = bitCount(((mask & window) | (1 << age)) >>> 0);
    }
    return seen >= s.familiarMinDays;
  }
  return s.familiarMinDays <= 1;
}

/** Forgets everything once nothing was seen within the period ending `day`. */
export function pruneFamiliar(h: FamiliarHolder, day: number, s: FamiliarSettings): void {
  if (h.familiar === undefined) return;
  if (s.familiarDays <= 0 || day - h.familiarDay >= Math.min(s.familiarDays, MAX_FAMILIAR_DAYS))
    h.familiar = undefined;
}

/** The keys and the number of days each was seen on (for evidence and tests): `[key, days seen]`. */
export function familiarEntries(h: FamiliarHolder): [number, number][] {
  return entriesOf(h.familiar).map((e) => [codeOf(e), bitCount(maskOf(e))]);
}
