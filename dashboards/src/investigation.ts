/**
 * Investigation: one subject (or one token, or one refresh-token family) — its timeline with place,
 * device and outcome, the findings with their evidence, and the revocations that followed. Reads the
 * raw tables, which are sorted by tenant and subject (and by token in events_by_token).
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { sql } from './clickhouse-query.ts';
import { CLICKHOUSE, DASHBOARD_UIDS } from './datasources.ts';
import { markersMap, numberPanels, row, seriesPanel, tablePanel } from './panels.ts';
import { bucket, textValue } from './sql-fragments.ts';

const TENANT = `tenant = ${textValue('tenant')}`;
/** The free-text variables, escaped for ClickHouse (subjects, jtis and families are chosen by whoever holds a token). */
const SUBJECT = textValue('subject');
const JTI = textValue('jti');
const FAMILY = textValue('family');

/**
 * The subject typed in, or the subjects that held the jti or family typed in: the events table is
 * sorted by subject, so a token lookup goes through events_by_token first.
 */
const SUBJECTS = `(subject = ${SUBJECT} OR subject IN (
    SELECT subject FROM events_by_token
    WHERE ${TENANT} AND ((token_kind = 'jti' AND token = ${JTI}) OR (token_kind = 'family' AND token = ${FAMILY}))
  ))`;

/** Events narrowed to the jti and family typed in, when they are. */
const TOKENS = `(${JTI} = '' OR jti = ${JTI} OR access_jti = ${JTI})
  AND (${FAMILY} = '' OR family_id = ${FAMILY})`;

/** Findings narrowed likewise: the jti or family they name, or revoke. */
const FINDING_TOKENS = `(${JTI} = '' OR jti = ${JTI} OR target_id = ${JTI})
  AND (${FAMILY} = '' OR family_id = ${FAMILY} OR target_id = ${FAMILY})`;

function variables() {
  return [
    new dashboard.QueryVariableBuilder('tenant')
      .label('Tenant')
      .datasource(CLICKHOUSE)
      .query('SELECT DISTINCT tenant FROM events_per_minute WHERE $__timeFilter(minute) ORDER BY tenant')
      .multi(false)
      .includeAll(false)
      .current({ text: 'default', value: 'default' })
      .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
      .sort(dashboard.VariableSort.AlphabeticalAsc),
    new dashboard.TextBoxVariableBuilder('subject').label('Subject (sub)').defaultValue(''),
    new dashboard.TextBoxVariableBuilder('jti').label('Access token (jti)').defaultValue(''),
    new dashboard.TextBoxVariableBuilder('family').label('Refresh-token family').defaultValue(''),
  ];
}

function timeline() {
  return [
    tablePanel(
      'Timeline',
      'Every event of the subject (narrowed to the jti and family when given), newest first: what, where, from which device, with what outcome.',
      sql(`
SELECT toDateTime(intDiv(time_ms, 1000)) AS time, type, outcome, reason, source, ip, country, city,
  device_id, user_agent, jti, family_id, session_id, event_id
FROM events
WHERE ${TENANT} AND $__timeFilter(time) AND ${SUBJECTS} AND ${TOKENS}
ORDER BY time_ms DESC
LIMIT 1000`).columns(
        'time',
        'type',
        'outcome',
        'reason',
        'source',
        'ip',
        'country',
        'city',
        'device_id',
        'user_agent',
        'jti',
        'family_id',
        'session_id',
        'event_id',
      ),
      { w: 24, h: 11 },
    ).overrideByName('outcome', [
      {
        id: 'mappings',
        value: [
          {
            type: 'value',
            options: {
              rejected: { color: 'red', index: 0 },
              accepted: { color: 'green', index: 1 },
              rotated: { color: 'green', index: 2 },
            },
          },
        ],
      },
      { id: 'custom.cellOptions', value: { type: 'color-text' } },
    ]),
    markersMap(
      'Places',
      'Where the events came from (events without a known place are left out).',
      sql(`
SELECT toDateTime(intDiv(time_ms, 1000)) AS time, lat, lon, city, country, ip, device_id, type, outcome, reason
FROM events
WHERE ${TENANT} AND $__timeFilter(time) AND ${SUBJECTS} AND ${TOKENS} AND (lat != 0 OR lon != 0)
ORDER BY time_ms DESC
LIMIT 2000`).columns('time', 'lat', 'lon', 'city', 'country', 'ip', 'device_id', 'type', 'outcome', 'reason'),
      { w: 12, h: 9, layer: 'Events', colorField: 'outcome' },
    ),
    tablePanel(
      'Devices and networks',
      'Each device the subject’s tokens were used from: its addresses, places, and first and last sight.',
      sql(`
SELECT device_id, any(user_agent) AS agent, arrayStringConcat(arraySort(groupUniqArray(ip)), ', ') AS ips,
  arrayStringConcat(arraySort(groupUniqArray(country)), ', ') AS countries, count() AS events,
  min(time) AS first_seen, max(time) AS last_seen
FROM events
WHERE ${TENANT} AND $__timeFilter(time) AND ${SUBJECTS} AND ${TOKENS}
GROUP BY device_id
ORDER BY last_seen DESC
LIMIT 100`).columns('device_id', 'agent', 'ips', 'countries', 'events', 'first_seen', 'last_seen'),
      { w: 12, h: 9 },
    ),
    seriesPanel(
      'Outcomes over time',
      'The subject’s events per interval by type, outcome and reason.',
      sql(`
SELECT ${bucket('time')} AS interval_start, concat(toString(type), ' ', outcome, ' ', reason) AS what, count() AS events
FROM events
WHERE ${TENANT} AND $__timeFilter(time) AND ${SUBJECTS} AND ${TOKENS}
GROUP BY interval_start, what
ORDER BY interval_start`).columns('interval_start', 'what', 'events'),
      { w: 24, h: 7, unit: 'short', bars: true },
    ),
  ];
}

function findings() {
  return [
    tablePanel(
      'Findings',
      'What the detectors found, with their evidence (the events, distances, speeds, devices) and what was done.',
      sql(`
SELECT detected_time AS time, detector, kind, severity, confidence, action, dry_run, response,
  target_kind, target_id, revocation_id, evidence, detection_id
FROM detections FINAL
WHERE ${TENANT} AND $__timeFilter(detected_time) AND ${SUBJECTS} AND ${FINDING_TOKENS}
ORDER BY detected_ms DESC
LIMIT 500`).columns(
        'time',
        'detector',
        'kind',
        'severity',
        'confidence',
        'action',
        'dry_run',
        'response',
        'target_kind',
        'target_id',
        'revocation_id',
        'evidence',
        'detection_id',
      ),
      { w: 24, h: 9 },
    ).overrideByName('evidence', [{ id: 'custom.inspect', value: true }]),
    tablePanel(
      'Revocations that followed',
      'Each revocation for the subject: every attempt, how it ended, and how long from the misuse to the acknowledgement.',
      sql(`
SELECT revocation_id, any(target_kind) AS target, any(target_id) AS id, any(detector) AS by_detector,
  argMax(toString(status), time_ms) AS last_status, max(attempt) AS attempts, argMax(http_status, time_ms) AS last_http_status,
  argMax(error, time_ms) AS last_error, min(time) AS decided, max(time) AS last_change,
  if(max(time_ms) > max(detected_ms) AND max(detected_ms) > 0, (max(time_ms) - max(detected_ms)) / 1000, 0) AS seconds_from_misuse
FROM revocations
WHERE ${TENANT} AND $__timeFilter(time) AND ${SUBJECTS}
GROUP BY revocation_id
ORDER BY decided DESC
LIMIT 200`).columns(
        'revocation_id',
        'target',
        'id',
        'by_detector',
        'last_status',
        'attempts',
        'last_http_status',
        'last_error',
        'decided',
        'last_change',
        'seconds_from_misuse',
      ),
      { w: 24, h: 8 },
    ),
  ];
}

export function investigationDashboard(): dashboard.Dashboard {
  const d = new dashboard.DashboardBuilder('tokenwatch — investigation')
    .uid(DASHBOARD_UIDS.investigation)
    .description('One subject, token or family: timeline, places, devices, findings and revocations.')
    .tags(['tokenwatch', 'investigation'])
    .time({ from: 'now-24h', to: 'now' })
    .timezone('browser')
    .variables(variables())
    .link(
      new dashboard.DashboardLinkBuilder('On-call overview')
        .type(dashboard.DashboardLinkType.Link)
        .url(`/d/${DASHBOARD_UIDS.overview}`)
        .keepTime(true),
    );
  d.withRow(row('Timeline'));
  for (const p of timeline()) d.withPanel(p);
  d.withRow(row('Findings and revocations'));
  for (const p of findings()) d.withPanel(p);
  return numberPanels(d.build());
}
