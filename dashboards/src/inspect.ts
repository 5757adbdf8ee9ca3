/** Walks a built dashboard for what the tests and the benchmark look at: its queries and references. */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { CLICKHOUSE } from './datasources.ts';

export interface FoundQuery {
  /** where it is: `panel "Title" A`, `annotation "Name"`, `variable $name` */
  where: string;
  panelTitle: string;
  datasource: { type?: string; uid?: string } | undefined;
  /** SQL (ClickHouse) or PromQL (Prometheus) */
  text: string;
  kind: 'panel' | 'annotation' | 'variable';
}

type AnyRecord = Record<string, unknown>;

export function allPanels(d: dashboard.Dashboard): AnyRecord[] {
  const out: AnyRecord[] = [];
  for (const p of (d.panels ?? []) as unknown as AnyRecord[]) {
    out.push(p);
    for (const inner of (p['panels'] as AnyRecord[] | undefined) ?? []) out.push(inner);
  }
  return out;
}

export function allQueries(d: dashboard.Dashboard): FoundQuery[] {
  const found: FoundQuery[] = [];
  for (const p of allPanels(d)) {
    const title = String(p['title'] ?? '');
    for (const t of (p['targets'] as AnyRecord[] | undefined) ?? []) {
      const ds = (t['datasource'] ?? p['datasource']) as FoundQuery['datasource'];
      found.push({
        where: `panel "${title}" ${String(t['refId'])}`,
        panelTitle: title,
        datasource: ds,
        text: String(t['rawSql'] ?? t['expr'] ?? ''),
        kind: 'panel',
      });
    }
  }
  for (const a of (d.annotations?.list ?? []) as unknown as AnyRecord[]) {
    const target = a['target'] as AnyRecord | undefined;
    if (target === undefined) continue;
    found.push({
      where: `annotation "${String(a['name'])}"`,
      panelTitle: '',
      datasource: a['datasource'] as FoundQuery['datasource'],
      text: String(target['rawSql'] ?? target['expr'] ?? ''),
      kind: 'annotation',
    });
  }
  for (const v of (d.templating?.list ?? []) as unknown as AnyRecord[]) {
    if (v['type'] !== 'query') continue;
    const q = v['query'];
    found.push({
      where: `variable $${String(v['name'])}`,
      panelTitle: '',
      datasource: v['datasource'] as FoundQuery['datasource'],
      text: typeof q === 'string' ? q : String((q as AnyRecord)['query'] ?? (q as AnyRecord)['rawSql'] ?? ''),
      kind: 'variable',
    });
  }
  return found;
}

export const isClickHouse = (q: FoundQuery) => q.datasource?.uid === CLICKHOUSE.uid;
