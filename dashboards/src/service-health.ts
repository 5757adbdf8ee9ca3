/**
 * Service health, from Prometheus: is tokenwatch keeping up (ingest), are the detectors current, is
 * the response stage reaching the auth API and on-call, and the process itself.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { DASHBOARD_UIDS, PROMETHEUS } from './datasources.ts';
import { legendBelow, numberPanels, row } from './panels.ts';

/** Every series of these dashboards comes from the instances picked in $instance. */
const I = 'job="tokenwatch", instance=~"$instance"';

interface Series {
  expr: string;
  legend: string;
}

function promPanel(title: string, description: string, unit: string, series: Series[], bars = false) {
  const panel = new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(PROMETHEUS)
    .unit(unit)
    .min(0)
    .gridPos({ x: 0, y: 0, w: 8, h: 7 })
    .fillOpacity(bars ? 80 : 10)
    .legend(legendBelow());
  if (bars) panel.drawStyle(common.GraphDrawStyle.Bars);
  series.forEach((s, i) => {
    panel.withTarget(
      new prometheus.DataqueryBuilder()
        .refId(String.fromCharCode(65 + i))
        .datasource(PROMETHEUS)
        .expr(s.expr)
        .legendFormat(s.legend),
    );
  });
  return panel;
}

const rate = (metric: string, by: string) => `sum by (${by}) (rate(${metric}{${I}}[$__rate_interval]))`;
const p99 = (histogram: string, by = 'le') =>
  `histogram_quantile(0.99, sum by (${by}) (rate(${histogram}_bucket{${I}}[$__rate_interval])))`;

function ingest() {
  return [
    promPanel('Events received /s, by door', 'Before validation: HTTP and Kafka.', 'reqps', [
      { expr: rate('tokenwatch_events_received_total', 'door'), legend: '{{door}}' },
    ]),
    promPanel('Events stored /s, by type and outcome', 'After validation, stored in ClickHouse.', 'reqps', [
      { expr: rate('tokenwatch_events_total', 'type, outcome'), legend: '{{type}} {{outcome}}' },
    ]),
    promPanel(
      'Events dead-lettered /s',
      'Refused events by class and door (each kept in dead_letters).',
      'reqps',
      [{ expr: rate('tokenwatch_events_rejected_total', 'class, door'), legend: '{{door}} {{class}}' }],
    ),
    promPanel('ClickHouse inserts', 'Insert latency p99 and failed attempts (each is retried).', 's', [
      { expr: p99('tokenwatch_insert_duration_seconds'), legend: 'insert p99' },
      { expr: `sum(rate(tokenwatch_insert_failures_total{${I}}[$__rate_interval]))`, legend: 'failures /s' },
    ]),
    promPanel(
      'Insert buffer and HTTP back-pressure',
      'Rows waiting to be inserted; HTTP requests refused 503 as busy.',
      'short',
      [
        { expr: `sum by (instance) (tokenwatch_buffer_rows{${I}})`, legend: 'buffered rows {{instance}}' },
        { expr: `sum(rate(tokenwatch_http_busy_total{${I}}[$__rate_interval]))`, legend: 'busy 503 /s' },
      ],
    ),
    promPanel('Kafka consumer lag', 'Messages not yet read, per topic: ingest and detectors.', 'short', [
      { expr: `sum by (topic) (tokenwatch_kafka_consumer_lag{${I}})`, legend: 'ingest {{topic}}' },
      { expr: `sum by (topic) (tokenwatch_detector_consumer_lag{${I}})`, legend: 'detectors {{topic}}' },
    ]),
  ];
}

function detectors() {
  return [
    promPanel(
      'Findings /s, by detector and severity',
      'dry_run="true": reported, never acted on.',
      'reqps',
      [
        {
          expr: rate('tokenwatch_findings_total', 'detector, severity'),
          legend: '{{detector}} {{severity}}',
        },
      ],
      true,
    ),
    promPanel('Detection latency p99', 'From the misuse event to its finding.', 's', [
      { expr: p99('tokenwatch_detection_latency_seconds', 'le, detector'), legend: '{{detector}}' },
    ]),
    promPanel(
      'Detector state',
      'Subjects and keys held; the cap; subjects evicted to stay under it.',
      'short',
      [
        { expr: `sum(tokenwatch_detector_state_subjects{${I}})`, legend: 'subjects' },
        { expr: `sum(tokenwatch_detector_state_keys{${I}})`, legend: 'keys' },
        { expr: `max(tokenwatch_detector_state_max_keys{${I}})`, legend: 'max keys' },
        {
          expr: `sum(increase(tokenwatch_detector_state_evicted_subjects_total{${I}}[$__rate_interval]))`,
          legend: 'evicted',
        },
      ],
    ),
    promPanel(
      'Detector throughput and rebuilds',
      'Events through the detectors (live, warmup) and state rebuild time.',
      'reqps',
      [
        { expr: rate('tokenwatch_detector_events_total', 'mode'), legend: '{{mode}}' },
        { expr: p99('tokenwatch_detector_rebuild_duration_seconds'), legend: 'rebuild p99 (s)' },
      ],
    ),
    promPanel('Revocation hits /s', 'Revoked tokens presented again, by event type.', 'reqps', [
      { expr: rate('tokenwatch_revocation_hits_total', 'type'), legend: '{{type}}' },
    ]),
    promPanel(
      'Finding write failures /s',
      'Failed attempts to store or publish findings, by sink.',
      'reqps',
      [{ expr: rate('tokenwatch_detection_write_failures_total', 'sink'), legend: '{{sink}}' }],
    ),
  ];
}

function response() {
  return [
    promPanel(
      'Decisions /s',
      'What the response stage decided per detection.',
      'reqps',
      [{ expr: rate('tokenwatch_response_decisions_total', 'decision'), legend: '{{decision}}' }],
      true,
    ),
    promPanel('Revocation calls /s, by outcome', 'Calls to the auth API and how each went.', 'reqps', [
      { expr: rate('tokenwatch_revocation_attempts_total', 'outcome'), legend: '{{outcome}}' },
    ]),
    promPanel('Auth API latency and time to revoke (p99)', 'One call; and misuse → acknowledged.', 's', [
      { expr: p99('tokenwatch_revocation_call_duration_seconds'), legend: 'call p99' },
      { expr: p99('tokenwatch_time_to_revoke_seconds'), legend: 'time to revoke p99' },
    ]),
    promPanel(
      'Open revocations and breaker',
      'The outbox (decided, not acknowledged) and the auth-API circuit breaker.',
      'short',
      [
        { expr: `sum(tokenwatch_revocations_open{${I}})`, legend: 'open' },
        { expr: `max(tokenwatch_auth_api_breaker_open{${I}})`, legend: 'breaker open' },
      ],
    ),
    promPanel(
      'Blast-radius guard',
      'Revocations held back (alert only) and scopes currently tripped.',
      'short',
      [
        {
          expr: `sum by (scope) (increase(tokenwatch_guard_suppressed_total{${I}}[$__rate_interval]))`,
          legend: 'suppressed ({{scope}})',
        },
        { expr: `max by (scope) (tokenwatch_guard_tripped{${I}})`, legend: 'tripped ({{scope}})' },
      ],
    ),
    promPanel(
      'Webhooks and notices',
      'Alert deliveries by status; revocation notices published; write failures.',
      'reqps',
      [
        { expr: rate('tokenwatch_webhook_deliveries_total', 'status'), legend: 'webhook {{status}}' },
        { expr: rate('tokenwatch_revocation_hooks_published_total', 'sink'), legend: 'notices {{sink}}' },
        { expr: rate('tokenwatch_response_write_failures_total', 'sink'), legend: 'write failures {{sink}}' },
      ],
    ),
  ];
}

function process() {
  return [
    promPanel('CPU', 'Seconds of CPU per second (1 = one core).', 'percentunit', [
      { expr: `rate(tokenwatch_process_cpu_seconds_total{${I}}[$__rate_interval])`, legend: '{{instance}}' },
    ]),
    promPanel('Memory', 'Resident memory and V8 heap used.', 'bytes', [
      { expr: `tokenwatch_process_resident_memory_bytes{${I}}`, legend: 'rss {{instance}}' },
      {
        expr: `sum by (instance) (tokenwatch_nodejs_heap_size_used_bytes{${I}})`,
        legend: 'heap {{instance}}',
      },
    ]),
    promPanel('Event loop lag and GC', 'Event-loop delay p99 and time spent in garbage collection.', 's', [
      { expr: `tokenwatch_nodejs_eventloop_lag_p99_seconds{${I}}`, legend: 'loop p99 {{instance}}' },
      {
        expr: `sum by (instance) (rate(tokenwatch_nodejs_gc_duration_seconds_sum{${I}}[$__rate_interval]))`,
        legend: 'gc s/s {{instance}}',
      },
    ]),
  ];
}

export function serviceHealthDashboard(): dashboard.Dashboard {
  const d = new dashboard.DashboardBuilder('tokenwatch — service health')
    .uid(DASHBOARD_UIDS.serviceHealth)
    .description('Ingest, detectors, response and the process, from Prometheus.')
    .tags(['tokenwatch', 'service-health'])
    .time({ from: 'now-3h', to: 'now' })
    .refresh('30s')
    .timezone('browser')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .withVariable(
      new dashboard.QueryVariableBuilder('instance')
        .label('Instance')
        .datasource(PROMETHEUS)
        .query({
          qryType: 1,
          query: 'label_values(up{job="tokenwatch"}, instance)',
          refId: 'PrometheusVariableQueryEditor-VariableQuery',
        })
        .definition('label_values(up{job="tokenwatch"}, instance)')
        .multi(true)
        .includeAll(true)
        .allValue('.*')
        .current({ text: 'All', value: '$__all' })
        .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
        .sort(dashboard.VariableSort.AlphabeticalAsc),
    )
    .link(
      new dashboard.DashboardLinkBuilder('On-call overview')
        .type(dashboard.DashboardLinkType.Link)
        .url(`/d/${DASHBOARD_UIDS.overview}`)
        .keepTime(true),
    );
  d.withRow(row('Ingest'));
  for (const p of ingest()) d.withPanel(p);
  d.withRow(row('Detectors'));
  for (const p of detectors()) d.withPanel(p);
  d.withRow(row('Response'));
  for (const p of response()) d.withPanel(p);
  d.withRow(row('Process'));
  for (const p of process()) d.withPanel(p);
  return numberPanels(d.build());
}
