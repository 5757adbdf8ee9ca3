/** Every tokenwatch dashboard, by the file name its JSON is written to. */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { investigationDashboard } from './investigation.ts';
import { overviewDashboard } from './overview.ts';
import { serviceHealthDashboard } from './service-health.ts';

export const DASHBOARDS: Record<string, () => dashboard.Dashboard> = {
  'overview.json': overviewDashboard,
  'investigation.json': investigationDashboard,
  'service-health.json': serviceHealthDashboard,
};
