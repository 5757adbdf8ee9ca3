/**
 * How long after a rotation each client presents the same refresh token again from the same
 * device (or network + user agent): two tabs, a retry after a lost response, a laptop waking up.
 * The p99 of these gaps per client is what the refresh_replay grace window must cover. Pure; fed
 * events in time order by the backtest.
 */
import { networkOf } from '../../platform/net/network.ts';
import type { DetectorInput } from '../run/runtime.ts';

/** Re-presentations later than this are staleness, not concurrency, and are not counted. */
export const MAX_CONCURRENT_GAP_MS = 10 * 60_000;

interface Presentation {
  atMs: number;
  client: string;
}

export interface ClientGaps {
  client_id: string;
  /** refresh presentations seen */
  refreshes: number;
  /** same-client re-presentations of an already presented token within MAX_CONCURRENT_GAP_MS */
  concurrent: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  /** of the concurrent ones, how many fell outside the current grace window (each a high-severity finding) */
  beyond_grace: number;
}

export interface GapReport {
  clients: ClientGaps[];
  current_grace_window_ms: number;
  /** the largest per-client p99, with half again for margin, rounded up to a second (at least 1 s) */
  suggested_grace_window_ms: number;
}

const quantile = (sorted: number[], q: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

export class RefreshGaps {
  readonly #first = new Map<string, Presentation>();
  readonly #gaps = new Map<string, number[]>();
  readonly #refreshes = new Map<string, number>();
  #sinceSweep = 0;

  add(e: DetectorInput): void {
    if (e.type !== 'refresh' || e.token_id === '' || e.family_id === '') return;
    const clientId = e.client_id === '' ? '(none)' : e.client_id;
    this.#refreshes.set(clientId, (this.#refreshes.get(clientId) ?? 0) + 1);
    const key = `${e.tenant}\u0000${e.family_id}\u0000${e.token_id}`;
    const client = e.device_id !== '' ? `d:${e.device_id}` : `n:${networkOf(e.ip)}|${e.user_agent}`;
    const first = this.#first.get(key);
    if (first === undefined) this.#first.set(key, { atMs: e.time_ms, client });
    else if (first.client === client) {
      const gap = e.time_ms - first.atMs;
      if (gap >= 0 && gap <= MAX_CONCURRENT_GAP_MS) {
        const list = this.#gaps.get(clientId) ?? [];
        list.push(gap);
        this.#gaps.set(clientId, list);
      }
    }
    if (++this.#sinceSweep >= 100_000) this.#sweep(e.time_ms);
  }

  #sweep(nowMs: number) {
    this.#sinceSweep = 0;
    for (const [k, p] of this.#first) if (nowMs - p.atMs > MAX_CONCURRENT_GAP_MS) this.#first.delete(k);
  }

  report(currentGraceMs: number): GapReport {
    const clients = [...this.#refreshes.entries()]
      .map(([client_id, refreshes]): ClientGaps => {
        const gaps = [...(this.#gaps.get(client_id) ?? [])].sort((a, b) => a - b);
        return {
          client_id,
          refreshes,
          concurrent: gaps.length,
          p50_ms: quantile(gaps, 0.5),
          p99_ms: quantile(gaps, 0.99),
          max_ms: gaps.at(-1) ?? 0,
          beyond_grace: gaps.filter((g) => g > currentGraceMs).length,
        };
      })
      .sort((a, b) => b.p99_ms - a.p99_ms || a.client_id.localeCompare(b.client_id));
    const worst = Math.max(0, ...clients.map((c) => c.p99_ms));
    return {
      clients,
      current_grace_window_ms: currentGraceMs,
      suggested_grace_window_ms: Math.max(1000, Math.ceil((worst * 1.5) / 1000) * 1000),
    };
  }
}
