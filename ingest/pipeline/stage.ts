/**
 * The shared middle of both doors: untrusted text → validated, normalized, enriched rows (geo, ASN, network kind) or dead
 * letters. Each event is handled inside its own failure boundary: whatever one event does to the
 * code (a bug a hostile input finds), it only ever produces its own dead letter (`unprocessable`),
 * never a failed request or a crashed consumer.
 */
import { forEachInSlices } from '../../platform/slices.ts';
import { IpIntel } from '../ipintel/provider.ts';
import type { Metrics } from '../metrics.ts';
import type { IngestSettings } from '../settings.ts';
import {
  type DeadLetterInput,
  type DeadLetterRow,
  type EventRow,
  toDeadLetterRow,
  toEventRow,
} from './rows.ts';
import {
  type NormalizedEvent,
  toContractEvent,
  type ValidationContext,
  type ValidationOptions,
  type ValidationResult,
  validateEventText,
  validateRelayedText,
} from './validate.ts';

export type Door = 'http' | 'kafka';

const unprocessable = (err: unknown): ValidationResult => ({
  ok: false,
  error: {
    code: 'unprocessable',
    message: `tokenwatch could not process this event (${(err as Error)?.message ?? String(err)}); it is kept as a dead letter: please report it`,
  },
});

export class Stage {
  /** what addresses say (geo, ASN, network kind) */
  readonly ipIntel: IpIntel;
  readonly validation: ValidationOptions;

  private readonly limits: IngestSettings['limits'];
  private readonly metrics: Metrics;

  /** `ipIntel`: the operator's sources (openIpIntel); default: geoip-lite's bundled data alone */
  constructor(limits: IngestSettings['limits'], metrics: Metrics, ipIntel: IpIntel = new IpIntel()) {
    this.ipIntel = ipIntel;
    this.limits = limits;
    this.metrics = metrics;
    this.validation = {
      eventBytes: limits.eventBytes,
      maxEventAgeSeconds: limits.maxEventAgeSeconds,
      maxFutureSkewSeconds: limits.maxFutureSkewSeconds,
      maxDepth: limits.eventMaxDepth,
    };
  }

  /**
   * Validates one event given as text; never throws. A message the relay signed (`ctx.signedRelay`)
   * is checked only for what the relaying door's validation cannot vouch for (validateRelayedText).
   */
  validateText(text: string, ctx: ValidationContext): ValidationResult {
    this.metrics.validated.inc();
    try {
      return ctx.signedRelay === true
        ? validateRelayedText(text, this.validation, ctx)
        : validateEventText(text, this.validation, ctx);
    } catch (err) {
      return unprocessable(err);
    }
  }

  enrich(event: NormalizedEvent, receivedMs: number, door: Door | '' = ''): EventRow {
    return toEventRow(event, this.ipIntel, receivedMs, door);
  }

  /**
   * The rows of validated events, in slices shared with all other work; an event whose enrichment
   * fails gets a dead letter (pushed to `deadLetters`) instead of failing the others.
   */
  async enrichAll(
    events: NormalizedEvent[],
    receivedMs: number,
    door: Door,
    deadLetters: DeadLetterRow[],
  ): Promise<EventRow[]> {
    const rows: EventRow[] = [];
    await forEachInSlices(events, (e) => {
      const row = this.enrichOrLetter(e, receivedMs, door, deadLetters);
      if (row !== undefined) rows.push(row);
    });
    return rows;
  }

  /** The row of one validated event, or undefined and its dead letter pushed to `deadLetters`. */
  enrichOrLetter(
    e: NormalizedEvent,
    receivedMs: number,
    door: Door,
    deadLetters: DeadLetterRow[],
  ): EventRow | undefined {
    try {
      return this.enrich(e, receivedMs, door);
    } catch (err) {
      const failed = unprocessable(err);
      if (failed.ok) return undefined;
      deadLetters.push(
        this.deadLetter({
          door,
          tenant: e.tenant,
          origin: 'enrichment',
          eventIndex: -1,
          error: failed.error,
          payload: JSON.stringify(toContractEvent(e)),
          receivedMs,
        }),
      );
      return undefined;
    }
  }

  deadLetter(d: DeadLetterInput): DeadLetterRow {
    this.metrics.rejects.inc({ class: d.error.code, door: d.door });
    return toDeadLetterRow(d, this.limits.deadLetterPayloadBytes);
  }
}
