/**
 * The datasources every dashboard points at, by uid. Grafana's provisioning
 * (`dashboards/provisioning/datasources/tokenwatch.yaml`) creates them with exactly these uids;
 * a test keeps the two in step.
 */
export const CLICKHOUSE = { type: 'grafana-clickhouse-datasource', uid: 'tokenwatch-clickhouse' } as const;
export const PROMETHEUS = { type: 'prometheus', uid: 'tokenwatch-prometheus' } as const;

/** Dashboard uids: links between dashboards use them. */
export const DASHBOARD_UIDS = {
  overview: 'tokenwatch-overview',
  investigation: 'tokenwatch-investigation',
  serviceHealth: 'tokenwatch-service-health',
} as const;
