/**
 * How the simulated traffic reaches tokenwatch, as real delivery does: a recording reporter takes the
 * events the simulated auth server and verifiers report (instead of sending them), and `shuffled`
 * reorders them the way several producers, batching and retries do — each event arrives up to the
 * allowed lateness after it happened, and some arrive twice (a retry after a lost answer). Seeded:
 * the same seed gives the same order.
 */
import type { Reporter, ReporterStats, TokenEvent } from '../../sdk/src/index.ts';
import { Random } from './random.ts';

/** A Reporter that keeps every event it is given, in the order given. */
export class RecordingReporter implements Reporter {
  readonly events: TokenEvent[] = [];

  report(event: TokenEvent): void {
    this.events.push(event);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}

  stats(): ReporterStats {
    const n = this.events.length;
    return {
      reported: n,
      queued: 0,
      sent: n,
      dropped: { queue_full: 0, refused: 0, closed: 0 },
      sendFailures: 0,
    };
  }
}

const timeOf = (e: TokenEvent) => (typeof e.time === 'number' ? e.time : Date.parse(e.time));

/** The events in event-time order (what one in-order producer would send). */
export const inTimeOrder = (events: readonly TokenEvent[]): TokenEvent[] =>
  events
    .map((e, i) => ({ e, i, t: timeOf(e) }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map((x) => x.e);

export interface ShuffleOptions {
  /** each event arrives at most this long (ms of event time) after it happened */
  latenessMs: number;
  /** the share of events delivered a second time (0..1) */
  duplicates: number;
  seed: string;
}

/** The events as out-of-order delivery brings them: delayed up to the lateness, some twice. */
export function shuffled(events: readonly TokenEvent[], o: ShuffleOptions): TokenEvent[] {
  const random = new Random(o.seed);
  const arrivals: { e: TokenEvent; at: number; i: number }[] = [];
  events.forEach((e, i) => {
    const t = timeOf(e);
    arrivals.push({ e, at: t + random.float() * o.latenessMs, i });
    if (random.float() < o.duplicates) arrivals.push({ e, at: t + random.float() * o.latenessMs, i });
  });
  return arrivals.sort((a, b) => a.at - b.at || a.i - b.i).map((x) => x.e);
}
