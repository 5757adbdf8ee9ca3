/**
 * The Keycloak event poller, for realms that cannot install the listener jar: reads the realm's
 * stored events (`GET /admin/realms/{realm}/events`, as the service account with view-events) from
 * the cursor on, page by page until a short page, keeps the ones not reported yet (poll-cursor.ts),
 * maps them as the listener does (event-mapper.ts) and reports them to tokenwatch's
 * `POST /v1/events` with an auth-server key; only once tokenwatch accepted them is the cursor
 * stored (a temporary file renamed over the state file), so a crash or restart at any point
 * repeats nothing already stored and loses nothing: at worst a batch is reported again, and
 * tokenwatch keeps an `event_id` once.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { post } from '../../../platform/http/client.ts';
import { KeycloakAdminClient } from '../../../platform/keycloak/admin-client.ts';
import type { KeycloakSettings } from '../../../platform/keycloak/settings.ts';
import type { ValuesOf } from '../../../platform/settings.ts';
import { checkKeycloakEvent, type KeycloakEvent, mapKeycloakEvent, POLLED_TYPES } from './event-mapper.ts';
import { advance, EMPTY_CURSOR, type PollCursor, parseCursor, pollFromMs } from './poll-cursor.ts';
import type { KEYCLOAK_POLL_SETTINGS } from './settings.ts';

export type PollSettings = ValuesOf<typeof KEYCLOAK_POLL_SETTINGS>;

export class KeycloakPollError extends Error {
  readonly code = 'ERR_TOKENWATCH_KEYCLOAK_POLL';
}

export interface PollResult {
  /** events Keycloak returned (repeats within the overlap included) */
  fetched: number;
  /** events reported to tokenwatch */
  reported: number;
  /** events not reported, by why: not_taken, unattributable, invalid */
  skipped: Record<string, number>;
  cursor: PollCursor;
}

/** Pages per poll at most (× page size events): a poll never holds more than this. */
const MAX_PAGES = 200;
const REPORT_BATCH = 500;

export class KeycloakEventPoller {
  readonly #admin: KeycloakAdminClient;
  readonly #s: PollSettings;
  readonly #realm: string;
  readonly #log: Logger;
  #stopped = false;
  #wake: (() => void) | undefined;

  constructor(keycloak: KeycloakSettings, settings: PollSettings, log: Logger) {
    this.#admin = new KeycloakAdminClient(keycloak);
    this.#realm = keycloak.realm;
    this.#s = settings;
    this.#log = log;
  }

  /** The stored cursor (none or unreadable: the empty one, said in the log). */
  loadCursor(): PollCursor {
    let text: string;
    try {
      text = readFileSync(this.#s.stateFile, 'utf8');
    } catch {
      return EMPTY_CURSOR;
    }
    const c = parseCursor(text);
    if (c === undefined) {
      this.#log.error(
        { stateFile: this.#s.stateFile },
        'the poll cursor file is not a cursor: starting from TOKENWATCH_KEYCLOAK_POLL_BACKFILL_SECONDS ago (events may be reported again; tokenwatch keeps each event_id once)',
      );
      return EMPTY_CURSOR;
    }
    return c;
  }

  #saveCursor(c: PollCursor) {
    const tmp = `${this.#s.stateFile}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(c)}\n`);
    renameSync(tmp, this.#s.stateFile);
  }

  /** Every page from `fromMs` on (Keycloak's order whatever it is: the cursor sorts). */
  async #fetch(
    fromMs: number,
    skipped: Record<string, number>,
  ): Promise<{ events: KeycloakEvent[]; fetched: number }> {
    const events: KeycloakEvent[] = [];
    let fetched = 0;
    const types = POLLED_TYPES.map((t) => `&type=${t}`).join('');
    for (let page = 0; page < MAX_PAGES; page++) {
      const first = page * this.#s.pageSize;
      const path = `/events?dateFrom=${fromMs}&first=${first}&max=${this.#s.pageSize}&direction=asc${types}`;
      const res = await this.#admin.call('GET', path);
      if (res.status !== 200)
        throw new KeycloakPollError(
          `GET ${this.#admin.base}${path} answered ${res.status} ${res.body.slice(0, 200)}` +
            (res.status === 403 ? ': give the service account the realm-management role view-events' : ''),
        );
      let list: unknown;
      try {
        list = JSON.parse(res.body);
      } catch {
        throw new KeycloakPollError(
          `GET ${this.#admin.base}${path} answered 200 with a body that is not JSON`,
        );
      }
      if (!Array.isArray(list))
        throw new KeycloakPollError(
          `GET ${this.#admin.base}${path} answered 200 with a body that is not an array`,
        );
      fetched += list.length;
      for (const raw of list) {
        const checked = checkKeycloakEvent(raw);
        if (checked.ok) events.push(checked.event);
        else {
          skipped['invalid'] = (skipped['invalid'] ?? 0) + 1;
          this.#log.warn({ why: checked.why }, 'Keycloak returned an event tokenwatch cannot read: skipped');
        }
      }
      if (list.length < this.#s.pageSize) return { events, fetched };
    }
    this.#log.warn(
      { pages: MAX_PAGES, pageSize: this.#s.pageSize },
      'more events than one poll reads: the rest follow in the next polls',
    );
    return { events, fetched };
  }

  async #report(events: Record<string, string | number>[]) {
    for (let i = 0; i < events.length; i += REPORT_BATCH) {
      const body = events
        .slice(i, i + REPORT_BATCH)
        .map((e) => JSON.stringify(e))
        .join('\n');
      const url = new URL('/v1/events', this.#s.reportUrl);
      let res: Awaited<ReturnType<typeof post>>;
      try {
        res = await post(url, body, {
          timeoutMs: 30_000,
          headers: {
            authorization: `Bearer ${this.#s.apiKey}`,
            'content-type': 'application/x-ndjson',
            'user-agent': 'tokenwatch-keycloak-poller',
          },
        });
      } catch (err) {
        throw new KeycloakPollError(`tokenwatch at ${url.origin} unreachable: ${(err as Error).message}`);
      }
      if (res.status !== 200)
        throw new KeycloakPollError(
          `tokenwatch answered ${res.status} to POST ${url.pathname}: ${res.body.slice(0, 300)}` +
            (res.status === 401 || res.status === 403
              ? ' (check TOKENWATCH_KEYCLOAK_POLL_API_KEY: a key of TOKENWATCH_API_KEYS with the auth-server role)'
              : ''),
        );
    }
  }

  /** One poll: read, report what is new, store the cursor. Throws (cursor unchanged) when Keycloak or tokenwatch fails. */
  async pollOnce(nowMs = Date.now()): Promise<PollResult> {
    const cursor = this.loadCursor();
    const skipped: Record<string, number> = {};
    const fromMs = pollFromMs(cursor, this.#s.overlapMs, nowMs - this.#s.backfillSeconds * 1000);
    const { events, fetched } = await this.#fetch(fromMs, skipped);
    const { fresh, cursor: next } = advance(cursor, events, this.#s.overlapMs);
    const mapped: Record<string, string | number>[] = [];
    for (const e of fresh) {
      const m = mapKeycloakEvent(e, {
        tenant: this.#s.tenant,
        realm: this.#realm,
        realmRevokesRefreshTokens: this.#s.realmRevokesRefreshTokens,
      });
      if (m.ok) mapped.push(m.event);
      else skipped[m.skipped] = (skipped[m.skipped] ?? 0) + 1;
    }
    await this.#report(mapped);
    this.#saveCursor(next);
    return { fetched, reported: mapped.length, skipped, cursor: next };
  }

  /** Polls every interval until stop(); a failed poll is logged and retried at the next. */
  async run(): Promise<void> {
    while (!this.#stopped) {
      try {
        const r = await this.pollOnce();
        if (r.reported > 0 || Object.keys(r.skipped).length > 0)
          this.#log.info(
            { fetched: r.fetched, reported: r.reported, skipped: r.skipped },
            'Keycloak events polled',
          );
      } catch (err) {
        this.#log.error(
          { err: (err as Error).message },
          'Keycloak poll failed; trying again at the next poll',
        );
      }
      if (this.#stopped) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.#s.intervalMs);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  stop() {
    this.#stopped = true;
    this.#wake?.();
  }
}
