/** Panel and variable shapes the tokenwatch dashboards share. */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as geomap from '@grafana/grafana-foundation-sdk/geomap';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import type { ClickHouseQueryBuilder } from './clickhouse-query.ts';
import { CLICKHOUSE, DASHBOARD_UIDS } from './datasources.ts';

export interface Size {
  w: number;
  h: number;
}

/** The series listed under the chart: how every time series panel of these dashboards shows its legend. */
export const legendBelow = () =>
  new common.VizLegendOptionsBuilder()
    .displayMode(common.LegendDisplayMode.List)
    .placement(common.LegendPlacement.Bottom)
    .showLegend(true);

/** A time series panel over ClickHouse: lines by default, stacked bars for counts. */
export function seriesPanel(
  title: string,
  description: string,
  query: ClickHouseQueryBuilder,
  o: Size & { unit: string; bars?: boolean; minInterval?: string },
) {
  const panel = new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(CLICKHOUSE)
    .withTarget(query.timeSeries())
    .unit(o.unit)
    .min(0)
    .gridPos({ x: 0, y: 0, w: o.w, h: o.h })
    .legend(legendBelow())
    .tooltip(
      new common.VizTooltipOptionsBuilder()
        .mode(common.TooltipDisplayMode.Multi)
        .sort(common.SortOrder.Descending),
    );
  if (o.minInterval !== undefined) panel.interval(o.minInterval);
  if (o.bars === true) {
    panel
      .drawStyle(common.GraphDrawStyle.Bars)
      .fillOpacity(80)
      .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  } else {
    panel.fillOpacity(10).lineWidth(1);
  }
  return panel;
}

/** One number for the top row: what is happening, at a glance. */
export function statPanel(
  title: string,
  description: string,
  query: ClickHouseQueryBuilder,
  o: Size & { unit: string; red?: number },
) {
  const steps: dashboard.Threshold[] = [{ value: null, color: 'green' }];
  if (o.red !== undefined) steps.push({ value: o.red, color: 'red' });
  return new stat.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(CLICKHOUSE)
    .withTarget(query.table())
    .unit(o.unit)
    .gridPos({ x: 0, y: 0, w: o.w, h: o.h })
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(common.BigValueColorMode.Background)
    .thresholds(new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(steps))
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
}

export function tablePanel(title: string, description: string, query: ClickHouseQueryBuilder, o: Size) {
  return new table.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(CLICKHOUSE)
    .withTarget(query.table())
    .gridPos({ x: 0, y: 0, w: o.w, h: o.h })
    .cellHeight(common.TableCellHeight.Sm)
    .filterable(true);
}

/** A world map with one marker per row (columns `lat`, `lon`), coloured by `colorField`, every column in the tooltip. */
export function markersMap(
  title: string,
  description: string,
  query: ClickHouseQueryBuilder,
  o: Size & { layer: string; colorField: string },
) {
  return new geomap.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(CLICKHOUSE)
    .withTarget(query.table())
    .gridPos({ x: 0, y: 0, w: o.w, h: o.h })
    .view(new geomap.MapViewConfigBuilder().id('zero').lat(20).lon(0).zoom(1))
    .basemap(new common.MapLayerOptionsBuilder().type('default').name('Basemap'))
    .layers([
      new common.MapLayerOptionsBuilder()
        .type('markers')
        .name(o.layer)
        .tooltip(true)
        .location(
          new common.FrameGeometrySourceBuilder()
            .mode(common.FrameGeometrySourceMode.Coords)
            .latitude('lat')
            .longitude('lon'),
        )
        .config({
          showLegend: true,
          style: {
            size: { fixed: 6 },
            color: { field: o.colorField, fixed: 'red' },
            symbol: { fixed: 'img/icons/marker/circle.svg', mode: 'fixed' },
          },
        }),
    ])
    .tooltip(new geomap.TooltipOptionsBuilder().mode(geomap.TooltipMode.Details));
}

/** A field override that links the value to the investigation dashboard for that subject (and tenant). */
export function investigateSubjectLink(tenantField: string): dashboard.DynamicConfigValue {
  return {
    id: 'links',
    value: [
      {
        title: 'Investigate ${__value.raw}',
        url: `/d/${DASHBOARD_UIDS.investigation}?var-tenant=\${__data.fields.${tenantField}}&var-subject=\${__value.raw:percentencode}&\${__url_time_range}`,
      },
    ],
  };
}

export const row = (title: string) => new dashboard.RowBuilder(title);

/** Grafana wants a unique id per panel; the builders leave them unset. */
export function numberPanels(d: dashboard.Dashboard): dashboard.Dashboard {
  let id = 1;
  for (const p of d.panels ?? []) {
    p.id = id++;
    if ('panels' in p) for (const inner of p.panels ?? []) inner.id = id++;
  }
  return d;
}
