/** The shared middle of both doors: untrusted text → validated, normalized, geo-enriched rows or dead letters. */
import type { Config } from '../config.ts';
import type { Metrics } from '../metrics.ts';
import { GeoLookup } from './geo.ts';
import {
  type DeadLetterInput,
  type DeadLetterRow,
  type EventRow,
  toDeadLetterRow,
  toEventRow,
} from './rows.ts';
import {
  type NormalizedEvent,
  type ValidationContext,
  type ValidationOptions,
  type ValidationResult,
  validateEventParsed,
  validateEventText,
} from './validate.ts';

export type Door = 'http' | 'kafka';

export class Stage {
  readonly geo = new GeoLookup();
  readonly validation: ValidationOptions;

  private readonly limits: Config['limits'];
  private readonly metrics: Metrics;

  constructor(limits: Config['limits'], metrics: Metrics) {
    this.limits = limits;
    this.metrics = metrics;
    this.validation = {
      eventBytes: limits.eventBytes,
      maxEventAgeSeconds: limits.maxEventAgeSeconds,
      maxFutureSkewSeconds: limits.maxFutureSkewSeconds,
    };
  }

  validateText(text: string, ctx: ValidationContext): ValidationResult {
    return validateEventText(text, this.validation, ctx);
  }

  /** An already-parsed event (a JSON array element) and its serialized text, for the size check. */
  validateParsed(value: unknown, text: string, ctx: ValidationContext): ValidationResult {
    return validateEventParsed(value, text, this.validation, ctx);
  }

  enrich(event: NormalizedEvent, receivedMs: number): EventRow {
    return toEventRow(event, this.geo, receivedMs);
  }

  deadLetter(d: DeadLetterInput): DeadLetterRow {
    this.metrics.rejects.inc({ class: d.error.code, door: d.door });
    return toDeadLetterRow(d, this.limits.deadLetterPayloadBytes);
  }
}
