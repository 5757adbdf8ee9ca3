/** What the response stage tells on-call: one alert, before grouping and formatting for a webhook. */
import type { Severity } from '../detectors/types.ts';

export type AlertKind = 'detection' | 'guard_tripped' | 'revocation_failed';

export interface Alert {
  kind: AlertKind;
  /** alerts with the same group key inside the group window go out as one message */
  group_key: string;
  tenant: string;
  /** '' when the alert is not about one subject (the guard) */
  subject: string;
  /** the detector that found it; '' for alerts of the response stage itself */
  detector: string;
  severity: Severity;
  /** one line, e.g. "Refresh token replay — user-7, family f-12: family revoked" */
  title: string;
  /** a few lines of detail: places, devices, what was done */
  text: string;
  /** flat facts for receivers to filter on: detection_id, revocation_id, target, response, … */
  fields: Record<string, string | number | boolean>;
  /** when it happened (the misuse event's time, or the guard's trip) */
  time_ms: number;
  /** where to look (tokenwatch's detections API for this subject) */
  url?: string;
}

export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

export const severityRank = (s: Severity): number => SEVERITIES.indexOf(s);
