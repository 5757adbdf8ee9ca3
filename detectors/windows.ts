/**
 * Counting within windows of event time, whatever order the events arrive in: a time-ordered list of
 * recent sightings per holder, and the busiest window that holds a given sighting. "At least N within
 * W" is then a property of the events' times, not of when they were reported — a late report is
 * counted with its neighbours in time, and sightings far apart are never counted together.
 */
import type { Sighting } from './state.ts';

/**
 * The list with `here` in its place (event-time order), once per event id; only what lies within
 * `spanMs` of the newest is kept, and at most `max` of the newest. Returns undefined when `here` was
 * there already (the same event delivered again).
 */
export function insertByTime(
  list: Sighting[] | undefined,
  here: Sighting,
  spanMs: number,
  max: number,
): Sighting[] | undefined {
  const kept = list ?? [];
  if (kept.some((s) => s.sameEvent(here))) return undefined;
  let at = kept.length;
  while (at > 0 && kept[at - 1]!.time_ms > here.time_ms) at--;
  const next = [...kept.slice(0, at), here, ...kept.slice(at)];
  const newest = next[next.length - 1]!.time_ms;
  let from = 0;
  while (from < next.length && next[from]!.time_ms < newest - spanMs) from++;
  return next.slice(Math.max(from, next.length - max));
}

/**
 * The sightings of the busiest window of `windowMs` (half-open, [start, start + window)) that holds
 * `here`, counted by `key` (distinct keys; by default every sighting counts: insertByTime keeps one
 * per event). `list` is in event-time order and holds `here`.
 */
export function busiestWindowWith(
  list: readonly Sighting[],
  here: Sighting,
  windowMs: number,
  key?: (s: Sighting) => string,
): Sighting[] {
  let best: Sighting[] = [here];
  let bestCount = 1;
  for (let j = 0; j < list.length; j++) {
    const start = list[j]!.time_ms;
    if (start > here.time_ms) break;
    if (start <= here.time_ms - windowMs) continue;
    const inside: Sighting[] = [];
    const keys = new Set<string>();
    for (let i = j; i < list.length && list[i]!.time_ms < start + windowMs; i++) {
      inside.push(list[i]!);
      if (key !== undefined) keys.add(key(list[i]!));
    }
    const count = key === undefined ? inside.length : keys.size;
    if (count > bestCount) {
      best = inside;
      bestCount = count;
    }
  }
  return best;
}

/** How many distinct keys the sightings hold. */
export const distinct = (list: readonly Sighting[], key: (s: Sighting) => string) =>
  new Set(list.map(key)).size;
