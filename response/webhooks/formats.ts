/**
 * Webhook bodies: one message (a group of alerts, or the summary of an alert storm) rendered as the
 * JSON one kind of receiver expects — tokenwatch's own `generic` shape, a Slack incoming webhook,
 * or Alertmanager's API v2 `POST /api/v2/alerts`.
 */
import type { Severity } from '../../detectors/types.ts';
import { type Alert, type AlertKind, severityRank } from '../alert.ts';

export type WebhookFormat = 'generic' | 'slack' | 'alertmanager';
export const WEBHOOK_FORMATS: readonly WebhookFormat[] = ['generic', 'slack', 'alertmanager'];

/** Many groups folded into one message because too many were due at once. */
export interface StormSummary {
  /** e.g. "Alert storm: 9,998 incidents in 214 groups" */
  title: string;
  /** counts by severity, tenant and detector, and the first groups' titles */
  text: string;
  /** the highest severity among the folded alerts */
  severity: Severity;
  /** the earliest alert time among them */
  first_ms: number;
  groups: number;
  alerts: number;
  by_severity: Record<string, number>;
  by_tenant: Record<string, number>;
  by_detector: Record<string, number>;
}

/** What one delivery carries. */
export interface WebhookMessage {
  /** the same on every retry of this message: receivers deduplicate on it */
  delivery_id: string;
  group_key: string;
  /** the alerts carried in full */
  alerts: readonly Alert[];
  /** alerts that belong to the message but are only counted (beyond a cap) */
  omitted: number;
  /** present when the message is the summary of an alert storm; `alerts` are then samples */
  storm?: StormSummary;
}

/** Alerts carried in full by the generic format; the rest are counted in `omitted`. */
const GENERIC_MAX_ALERTS = 50;
/** Alerts given a section of their own in a Slack message; the rest are "and N more". */
const SLACK_MAX_ALERTS = 10;

/** The request body of `message` for a receiver of `format`. */
export function renderBody(format: WebhookFormat, message: WebhookMessage): string {
  switch (format) {
    case 'generic':
      return JSON.stringify(genericBody(message));
    case 'slack':
      return JSON.stringify(slackBody(message));
    case 'alertmanager':
      return JSON.stringify(alertmanagerBody(message));
  }
}

function genericBody(m: WebhookMessage) {
  const sent = m.alerts.slice(0, GENERIC_MAX_ALERTS);
  return {
    version: '1',
    delivery_id: m.delivery_id,
    group_key: m.group_key,
    alerts: sent,
    omitted: m.omitted + (m.alerts.length - sent.length),
    ...(m.storm !== undefined ? { storm: m.storm } : {}),
  };
}

/** The most severe alert (the first of those), which a message's headline is about. */
export function leadAlert(alerts: readonly Alert[]): Alert | undefined {
  let lead: Alert | undefined;
  for (const a of alerts)
    if (lead === undefined || severityRank(a.severity) > severityRank(lead.severity)) lead = a;
  return lead;
}

const SEVERITY_MARK: Record<Severity, string> = {
  low: ':information_source:',
  medium: ':warning:',
  high: ':rotating_light:',
  critical: ':fire:',
};

/** Slack's mrkdwn treats only &, < and > as control characters. */
const mrkdwn = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const clip = (text: string, max: number): string =>
  text.length <= max ? text : `${text.slice(0, max - 1)}…`;

function slackBody(m: WebhookMessage) {
  const total = m.alerts.length + m.omitted;
  const lead = leadAlert(m.alerts);
  const severity = m.storm?.severity ?? lead?.severity ?? 'low';
  const title = m.storm?.title ?? lead?.title ?? `${total} alerts`;
  const headline = `${severity.toUpperCase()}: ${title}`;
  const more = m.storm === undefined && total > 1 ? ` (+${total - 1} more)` : '';
  const blocks: object[] = [
    // header blocks take plain text of at most 150 characters
    { type: 'header', text: { type: 'plain_text', text: clip(headline, 150), emoji: true } },
  ];
  if (m.storm !== undefined) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(mrkdwn(m.storm.text), 3000) } });
  } else {
    const shown = m.alerts.slice(0, SLACK_MAX_ALERTS);
    for (const a of shown) blocks.push(slackSection(a));
    const rest = total - shown.length;
    if (rest > 0) {
      blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `and ${rest} more` }] });
    }
  }
  return { text: `${SEVERITY_MARK[severity]} ${clip(mrkdwn(headline), 3000)}${more}`, blocks };
}

function slackSection(a: Alert) {
  // in a link, `|` would end the URL: percent-encode it
  const heading =
    a.url !== undefined ? `<${mrkdwn(a.url.replace(/\|/g, '%7C'))}|${mrkdwn(a.title)}>` : mrkdwn(a.title);
  const facts: [string, string][] = [
    ['Severity', a.severity],
    ['Tenant', a.tenant],
    ['Subject', a.subject],
    ['Detector', a.detector],
    ...Object.entries(a.fields).map(([k, v]): [string, string] => [k, String(v)]),
  ];
  const fields = facts
    .filter(([, v]) => v !== '')
    .slice(0, 10) // a section holds at most 10 fields
    .map(([k, v]) => ({ type: 'mrkdwn', text: clip(`*${mrkdwn(k)}*\n${mrkdwn(v)}`, 2000) }));
  const text = a.text === '' ? `*${heading}*` : `*${heading}*\n${mrkdwn(a.text)}`;
  return { type: 'section', text: { type: 'mrkdwn', text: clip(text, 3000) }, fields };
}

const ALERTNAMES: Record<AlertKind, string> = {
  detection: 'TokenwatchDetection',
  guard_tripped: 'TokenwatchGuardTripped',
  revocation_failed: 'TokenwatchRevocationFailed',
};
const STORM_ALERTNAME = 'TokenwatchAlertStorm';

/** Alertmanager's label names: [a-zA-Z_][a-zA-Z0-9_]*. */
const labelName = (key: string): string => key.replace(/[^a-zA-Z0-9_]/g, '_').replace(/^(?=\d)/, '_');

/** Labels without empty values (Alertmanager treats an empty label as absent). */
function labels(entries: [string, string][]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of entries) if (v !== '' && !(k in out)) out[k] = v;
  return out;
}

function alertmanagerBody(m: WebhookMessage) {
  if (m.storm !== undefined) {
    return [
      {
        labels: labels([
          ['alertname', STORM_ALERTNAME],
          ['severity', m.storm.severity],
        ]),
        annotations: { summary: m.storm.title, description: m.storm.text },
        startsAt: new Date(m.storm.first_ms).toISOString(),
      },
    ];
  }
  return m.alerts.map((a) => ({
    // fixed labels first: a field never overrides them
    labels: labels([
      ['alertname', ALERTNAMES[a.kind]],
      ['severity', a.severity],
      ['tenant', a.tenant],
      ['subject', a.subject],
      ['detector', a.detector],
      ['group_key', a.group_key],
      ...Object.entries(a.fields).map(([k, v]): [string, string] => [labelName(k), String(v)]),
    ]),
    annotations: { summary: a.title, description: a.text },
    startsAt: new Date(a.time_ms).toISOString(),
    ...(a.url !== undefined ? { generatorURL: a.url } : {}),
  }));
}
