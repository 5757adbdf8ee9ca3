/**
 * The Keycloak event poller's cursor, pure. Keycloak's event store is read by time (`dateFrom`,
 * epoch ms, inclusive) oldest first; an event may become visible after a later one (concurrent
 * transactions commit out of order; clocks of a cluster's nodes differ), so each poll reads again
 * from `overlapMs` before the newest time seen and drops the events it has already reported, by id.
 * The cursor is the newest time seen and the ids seen within the overlap; it is stored (a state
 * file) after the events it covers were accepted, so a restart neither loses nor repeats one.
 */

export interface PollCursor {
  version: 1;
  /** newest event time reported, epoch ms (0: none yet) */
  timeMs: number;
  /** ids reported with a time within `overlapMs` of `timeMs`, and their times */
  recent: Record<string, number>;
}

export const EMPTY_CURSOR: PollCursor = { version: 1, timeMs: 0, recent: {} };

/** Where the next poll reads from (epoch ms); `startMs` when nothing was reported yet. */
export function pollFromMs(c: PollCursor, overlapMs: number, startMs: number): number {
  return c.timeMs === 0 ? startMs : Math.max(0, c.timeMs - overlapMs);
}

/** The events not reported yet (each id once, in time order), and the cursor once they are. */
export function advance<E extends { id: string; timeMs: number }>(
  c: PollCursor,
  events: readonly E[],
  overlapMs: number,
): { fresh: E[]; cursor: PollCursor } {
  const seen = new Set(Object.keys(c.recent));
  const fresh: E[] = [];
  for (const e of events) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    fresh.push(e);
  }
  fresh.sort((a, b) => a.timeMs - b.timeMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const timeMs = Math.max(c.timeMs, ...fresh.map((e) => e.timeMs));
  const recent: Record<string, number> = {};
  for (const [id, t] of Object.entries(c.recent)) if (t >= timeMs - overlapMs) recent[id] = t;
  for (const e of fresh) if (e.timeMs >= timeMs - overlapMs) recent[e.id] = e.timeMs;
  return { fresh, cursor: { version: 1, timeMs, recent } };
}

/** A stored cursor, checked; undefined when it is not one (the caller says so and starts over). */
export function parseCursor(text: string): PollCursor | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const c = v as Record<string, unknown>;
  if (c['version'] !== 1 || typeof c['timeMs'] !== 'number' || !Number.isSafeInteger(c['timeMs']))
    return undefined;
  const recent = c['recent'];
  if (typeof recent !== 'object' || recent === null || Array.isArray(recent)) return undefined;
  const out: Record<string, number> = {};
  for (const [id, t] of Object.entries(recent)) {
    if (typeof t !== 'number' || !Number.isSafeInteger(t)) return undefined;
    out[id] = t;
  }
  return { version: 1, timeMs: c['timeMs'], recent: out };
}
