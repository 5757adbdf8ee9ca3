/**
 * On-call overview: in ten seconds, what is happening — who, from where, what was revoked — and one
 * click to the evidence. Event panels read the minute rollups (migration 8), never the raw events.
 */

import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { REGISTRY } from '../../detectors/registry.ts';
import { sql } from './clickhouse-query.ts';
import { CLICKHOUSE, DASHBOARD_UIDS, PROMETHEUS } from './datasources.ts';
import {
  investigateSubjectLink,
  markersMap,
  numberPanels,
  row,
  seriesPanel,
  statPanel,
  tablePanel,
} from './panels.ts';
import { bucket, FINAL_STATUSES, SOURCES, TENANTS } from './sql-fragments.ts';

const ROLLUP_INTERVAL = '1m';

function variables() {
  return [
    new dashboard.QueryVariableBuilder('tenant')
      .label('Tenant')
      .datasource(CLICKHOUSE)
      .query('SELECT DISTINCT tenant FROM events_per_minute WHERE $__timeFilter(minute) ORDER BY tenant')
      .multi(true)
      .includeAll(true)
      .current({ text: 'All', value: '$__all' })
      .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
      .sort(dashboard.VariableSort.AlphabeticalAsc),
    new dashboard.QueryVariableBuilder('source')
      .label('Source')
      .description('the service or instance that saw the event (event panels only)')
      .datasource(CLICKHOUSE)
      .query(
        `SELECT DISTINCT source FROM events_per_minute WHERE $__timeFilter(minute) AND ${TENANTS} ORDER BY source`,
      )
      .multi(true)
      .includeAll(true)
      .current({ text: 'All', value: '$__all' })
      .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
      .sort(dashboard.VariableSort.AlphabeticalAsc),
  ];
}

const revocationAnnotations = () =>
  new dashboard.AnnotationQueryBuilder()
    .name('Revocations')
    .datasource(CLICKHOUSE)
    .enable(true)
    .iconColor('red')
    .target(
      sql(`
SELECT toDateTime(intDiv(time_ms, 1000)) AS time,
  concat('revoked ', toString(target_kind), ' ', target_id, ' of ', subject, ' (', detector, ', ', reason, ')') AS text,
  [detector, toString(target_kind)] AS tags
FROM revocations
WHERE $__timeFilter(time) AND ${TENANTS} AND status = 'done'
ORDER BY time_ms
LIMIT 1000`).columns('time', 'text', 'tags'),
    );

function glance() {
  const size = { w: 4, h: 4 };
  return [
    statPanel(
      'Findings',
      'Detections in the time range (every detector, dry-run included).',
      sql(
        `SELECT uniqExact(detection_id) AS findings FROM detections WHERE $__timeFilter(detected_time) AND ${TENANTS}`,
      ).columns('findings'),
      { ...size, unit: 'short', red: 1 },
    ),
    statPanel(
      'Revoked',
      'Revocations the auth server acknowledged in the time range.',
      sql(
        `SELECT uniqExact(revocation_id) AS revoked FROM revocations WHERE $__timeFilter(time) AND ${TENANTS} AND status = 'done'`,
      ).columns('revoked'),
      { ...size, unit: 'short' },
    ),
    statPanel(
      'Revocations failed',
      'Revocations that ended failed (the auth API refused them): someone must revoke by hand.',
      sql(
        `SELECT uniqExact(revocation_id) AS failed FROM revocations WHERE $__timeFilter(time) AND ${TENANTS} AND status = 'failed'`,
      ).columns('failed'),
      { ...size, unit: 'short', red: 1 },
    ),
    statPanel(
      'Suppressed by the guard',
      'Revocations the blast-radius guard held back (alert only): check the guard page.',
      sql(
        `SELECT uniqExact(revocation_id) AS suppressed FROM revocations WHERE $__timeFilter(time) AND ${TENANTS} AND status = 'suppressed'`,
      ).columns('suppressed'),
      { ...size, unit: 'short', red: 1 },
    ),
    statPanel(
      'Revoked tokens presented',
      'Verifications refused because the token was revoked: stolen tokens still being tried.',
      sql(`
SELECT sum(events) AS hits FROM events_per_minute
WHERE $__timeFilter(minute) AND ${TENANTS} AND ${SOURCES} AND type = 'verification' AND reason = 'revoked'`).columns(
        'hits',
      ),
      { ...size, unit: 'short', red: 1 },
    ),
    statPanel(
      'Dead letters',
      'Events refused as invalid in the time range (see the ingest row).',
      sql(
        `SELECT sum(letters) AS letters FROM dead_letters_per_minute WHERE $__timeFilter(minute) AND ${TENANTS}`,
      ).columns('letters'),
      { ...size, unit: 'short', red: 1 },
    ),
  ];
}

function traffic() {
  const size = { w: 12, h: 8, minInterval: ROLLUP_INTERVAL };
  return [
    seriesPanel(
      'Verification outcomes /s',
      'Every access-token verification the verifiers reported, accepted or rejected.',
      sql(`
SELECT ${bucket('minute')} AS interval_start, outcome, sum(events) / $__interval_s AS per_second
FROM events_per_minute
WHERE $__timeFilter(minute) AND ${TENANTS} AND ${SOURCES} AND type = 'verification'
GROUP BY interval_start, outcome
ORDER BY interval_start`).columns('interval_start', 'outcome', 'per_second'),
      { ...size, unit: 'reqps' },
    ),
    seriesPanel(
      'Rejections by reason /s',
      'Rejected verifications by reason: a wall of bad_signature or alg_not_allowed is someone forging tokens.',
      sql(`
SELECT ${bucket('minute')} AS interval_start, reason, sum(events) / $__interval_s AS per_second
FROM events_per_minute
WHERE $__timeFilter(minute) AND ${TENANTS} AND ${SOURCES} AND type = 'verification' AND outcome = 'rejected'
GROUP BY interval_start, reason
ORDER BY interval_start`).columns('interval_start', 'reason', 'per_second'),
      { ...size, unit: 'reqps', bars: true },
    ),
    seriesPanel(
      'Refresh: rotated, rejected, reuse /s',
      'Refresh-token rotations, refusals, and reuse the auth server itself detected.',
      sql(`
SELECT ${bucket('minute')} AS interval_start,
  if(reason = 'reuse_detected', 'reuse_detected', outcome) AS refresh, sum(events) / $__interval_s AS per_second
FROM events_per_minute
WHERE $__timeFilter(minute) AND ${TENANTS} AND ${SOURCES} AND type = 'refresh'
GROUP BY interval_start, refresh
ORDER BY interval_start`).columns('interval_start', 'refresh', 'per_second'),
      { ...size, unit: 'reqps' },
    ),
    seriesPanel(
      'Revoked tokens presented /s, by source',
      'Verifications refused as revoked, by the service that refused them (revocation hits).',
      sql(`
SELECT ${bucket('minute')} AS interval_start, source, sum(events) / $__interval_s AS per_second
FROM events_per_minute
WHERE $__timeFilter(minute) AND ${TENANTS} AND ${SOURCES} AND type = 'verification' AND reason = 'revoked'
GROUP BY interval_start, source
ORDER BY interval_start`).columns('interval_start', 'source', 'per_second'),
      { ...size, unit: 'reqps', bars: true },
    ),
  ];
}

function response() {
  const size = { w: 8, h: 8 };
  return [
    seriesPanel(
      'Findings by detector and severity',
      'Detections per interval, by detector and severity.',
      sql(`
SELECT ${bucket('detected_time')} AS interval_start, concat(toString(detector), ' / ', toString(severity)) AS finding,
  uniqExact(detection_id) AS findings
FROM detections
WHERE $__timeFilter(detected_time) AND ${TENANTS}
GROUP BY interval_start, finding
ORDER BY interval_start`).columns('interval_start', 'finding', 'findings'),
      { ...size, unit: 'short', bars: true },
    ),
    seriesPanel(
      'Revocations by status',
      'How each revocation ended: done (acknowledged), dry_run, suppressed (guard), failed, not_found.',
      sql(`
SELECT ${bucket('time')} AS interval_start, toString(status) AS outcome, uniqExact(revocation_id) AS revocations
FROM revocations
WHERE $__timeFilter(time) AND ${TENANTS} AND status IN ${FINAL_STATUSES}
GROUP BY interval_start, outcome
ORDER BY interval_start`).columns('interval_start', 'outcome', 'revocations'),
      { ...size, unit: 'short', bars: true },
    ),
    seriesPanel(
      'Time to revoke (p50, p99)',
      'From the misuse (its event time) to the auth server acknowledging the revocation.',
      sql(`
SELECT ${bucket('time')} AS interval_start,
  quantile(0.5)(if(time_ms > detected_ms, time_ms - detected_ms, 0) / 1000) AS p50,
  quantile(0.99)(if(time_ms > detected_ms, time_ms - detected_ms, 0) / 1000) AS p99
FROM revocations
WHERE $__timeFilter(time) AND ${TENANTS} AND status = 'done' AND detected_ms > 0
GROUP BY interval_start
ORDER BY interval_start`).columns('interval_start', 'p50', 'p99'),
      { ...size, unit: 's' },
    ),
  ];
}

/** The detectors whose findings are a token in more than one client's hands (the registry says which). */
const REUSE_DETECTORS = `(${REGISTRY.detectors
  .filter((d) => d.category === 'token_reuse')
  .map((d) => `'${d.name}'`)
  .join(', ')})`;

function suspects() {
  const size = { w: 8, h: 9 };
  return [
    tablePanel(
      'Top subjects with suspicious reuse',
      'Subjects with the most replay, impossible-travel and device-reuse findings. Click a subject to investigate.',
      sql(`
SELECT tenant, subject, uniqExact(detection_id) AS findings,
  arrayStringConcat(arraySort(groupUniqArray(toString(detector))), ', ') AS detectors, max(detected_time) AS last_seen
FROM detections
WHERE $__timeFilter(detected_time) AND ${TENANTS} AND detector IN ${REUSE_DETECTORS}
GROUP BY tenant, subject
ORDER BY findings DESC, last_seen DESC
LIMIT 20`).columns('tenant', 'subject', 'findings', 'detectors', 'last_seen'),
      size,
    ).overrideByName('subject', [investigateSubjectLink('tenant')]),
    tablePanel(
      'Top IPs in suspicious reuse',
      'Addresses seen in the evidence of reuse findings.',
      sql(`
SELECT place_ip AS ip, any(place_country) AS country, uniqExact(detection_id) AS findings, uniqExact(subject) AS subjects
FROM detections
ARRAY JOIN evidence_ips AS place_ip, evidence_countries AS place_country
WHERE $__timeFilter(detected_time) AND ${TENANTS} AND detector IN ${REUSE_DETECTORS} AND place_ip != ''
GROUP BY place_ip
ORDER BY findings DESC
LIMIT 20`).columns('ip', 'country', 'findings', 'subjects'),
      size,
    ),
    tablePanel(
      'Top countries in suspicious reuse',
      'Countries of the places in the evidence of reuse findings.',
      sql(`
SELECT place_country AS country, uniqExact(detection_id) AS findings, uniqExact(subject) AS subjects, uniqExact(place_ip) AS ips
FROM detections
ARRAY JOIN evidence_ips AS place_ip, evidence_countries AS place_country
WHERE $__timeFilter(detected_time) AND ${TENANTS} AND detector IN ${REUSE_DETECTORS} AND place_country != ''
GROUP BY place_country
ORDER BY findings DESC
LIMIT 20`).columns('country', 'findings', 'subjects', 'ips'),
      size,
    ),
  ];
}

function travel() {
  const map = markersMap(
    'Impossible travel',
    'Both places of each impossible-travel finding: where the token was, and where it was used next.',
    sql(`
SELECT detected_time AS time, tenant, subject, if(leg = 1, 'from', 'to') AS place, lat, lon, city, country,
  visitParamExtractFloat(evidence, 'speed_kmh') AS speed_kmh
FROM detections
ARRAY JOIN evidence_lats AS lat, evidence_lons AS lon, evidence_cities AS city, evidence_countries AS country,
  arrayEnumerate(evidence_lats) AS leg
WHERE $__timeFilter(detected_time) AND ${TENANTS} AND detector = 'impossible_travel' AND (lat != 0 OR lon != 0)
ORDER BY detected_time DESC
LIMIT 2000`).columns('time', 'tenant', 'subject', 'place', 'lat', 'lon', 'city', 'country', 'speed_kmh'),
    { w: 14, h: 10, layer: 'Places', colorField: 'place' },
  );
  const pairs = tablePanel(
    'Impossible-travel pairs',
    'Each finding: from where to where, how far, how fast it would have had to go.',
    sql(`
SELECT detected_time AS time, tenant, subject, evidence_cities[1] AS from_city, evidence_countries[1] AS from_country,
  evidence_cities[2] AS to_city, evidence_countries[2] AS to_country,
  visitParamExtractFloat(evidence, 'distance_km') AS distance_km, visitParamExtractFloat(evidence, 'elapsed_s') AS elapsed_s,
  visitParamExtractFloat(evidence, 'speed_kmh') AS speed_kmh, target_kind, target_id
FROM detections
WHERE $__timeFilter(detected_time) AND ${TENANTS} AND detector = 'impossible_travel'
ORDER BY detected_time DESC
LIMIT 200`).columns(
      'time',
      'tenant',
      'subject',
      'from_city',
      'from_country',
      'to_city',
      'to_country',
      'distance_km',
      'elapsed_s',
      'speed_kmh',
      'target_kind',
      'target_id',
    ),
    { w: 10, h: 10 },
  ).overrideByName('subject', [investigateSubjectLink('tenant')]);
  return [map, pairs];
}

function ingest() {
  const size = { w: 6, h: 7 };
  return [
    seriesPanel(
      'Events stored /s',
      'Events stored per second, by the minute they arrived.',
      sql(`
SELECT ${bucket('minute')} AS interval_start, countMerge(events) / $__interval_s AS events_per_second
FROM ingest_per_minute
WHERE $__timeFilter(minute) AND ${TENANTS} AND ${SOURCES}
GROUP BY interval_start
ORDER BY interval_start`).columns('interval_start', 'events_per_second'),
      { ...size, unit: 'reqps', minInterval: ROLLUP_INTERVAL },
    ),
    seriesPanel(
      'Ingest lag (event time → received)',
      'How late events arrive: p50, p99 and max of received time minus the producer’s event time.',
      sql(`
SELECT interval_start, q[1] / 1000 AS p50, q[3] / 1000 AS p99, worst / 1000 AS max
FROM (
  SELECT ${bucket('minute')} AS interval_start, quantilesTDigestMerge(0.5, 0.9, 0.99)(lag_ms) AS q, maxMerge(max_lag_ms) AS worst
  FROM ingest_per_minute
  WHERE $__timeFilter(minute) AND ${TENANTS} AND ${SOURCES}
  GROUP BY interval_start
)
ORDER BY interval_start`).columns('interval_start', 'p50', 'p99', 'max'),
      { ...size, unit: 's', minInterval: ROLLUP_INTERVAL },
    ),
    seriesPanel(
      'Dead letters by code',
      'Events refused per interval, by why (see the dead_letters table for each one).',
      sql(`
SELECT ${bucket('minute')} AS interval_start, code, sum(letters) AS letters
FROM dead_letters_per_minute
WHERE $__timeFilter(minute) AND ${TENANTS}
GROUP BY interval_start, code
ORDER BY interval_start`).columns('interval_start', 'code', 'letters'),
      { ...size, unit: 'short', bars: true, minInterval: ROLLUP_INTERVAL },
    ),
    new timeseries.PanelBuilder()
      .title('Insert latency and Kafka lag')
      .description(
        'ClickHouse insert latency (p99, every instance) and messages waiting in Kafka (Prometheus).',
      )
      .datasource(PROMETHEUS)
      .withTarget(
        new prometheus.DataqueryBuilder()
          .refId('A')
          .datasource(PROMETHEUS)
          .expr(
            'histogram_quantile(0.99, sum by (le) (rate(tokenwatch_insert_duration_seconds_bucket[$__rate_interval])))',
          )
          .legendFormat('insert p99'),
      )
      .withTarget(
        new prometheus.DataqueryBuilder()
          .refId('B')
          .datasource(PROMETHEUS)
          .expr('sum(tokenwatch_kafka_consumer_lag)')
          .legendFormat('Kafka lag (messages)'),
      )
      .unit('s')
      .overrideByName('Kafka lag (messages)', [
        { id: 'unit', value: 'short' },
        { id: 'custom.axisPlacement', value: 'right' },
      ])
      .gridPos({ x: 0, y: 0, ...size }),
  ];
}

export function overviewDashboard(): dashboard.Dashboard {
  const d = new dashboard.DashboardBuilder('tokenwatch — on-call overview')
    .uid(DASHBOARD_UIDS.overview)
    .description('Token misuse at a glance: findings, revocations, who and from where; ingest health.')
    .tags(['tokenwatch', 'on-call'])
    .time({ from: 'now-6h', to: 'now' })
    .refresh('30s')
    .timezone('browser')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .variables(variables())
    .annotation(revocationAnnotations())
    .link(
      new dashboard.DashboardLinkBuilder('Investigation')
        .type(dashboard.DashboardLinkType.Link)
        .url(`/d/${DASHBOARD_UIDS.investigation}`)
        .keepTime(true)
        .includeVars(false),
    )
    .link(
      new dashboard.DashboardLinkBuilder('Service health')
        .type(dashboard.DashboardLinkType.Link)
        .url(`/d/${DASHBOARD_UIDS.serviceHealth}`)
        .keepTime(true),
    );
  for (const p of glance()) d.withPanel(p);
  d.withRow(row('Verifications and refreshes'));
  for (const p of traffic()) d.withPanel(p);
  d.withRow(row('Findings and response'));
  for (const p of response()) d.withPanel(p);
  d.withRow(row('Suspicious reuse: who and from where'));
  for (const p of suspects()) d.withPanel(p);
  for (const p of travel()) d.withPanel(p);
  d.withRow(row('Ingest health'));
  for (const p of ingest()) d.withPanel(p);
  return numberPanels(d.build());
}
