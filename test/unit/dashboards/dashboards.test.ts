/**
 * The dashboards as built: committed JSON up to date, valid for the Grafana foundation SDK's schema
 * (its Go decoder, strict), every datasource, variable and dashboard link they name defined, every
 * ClickHouse query with the columns its panel reads declared, every PromQL expression parsed by
 * promtool and reading metrics tokenwatch exports. (The SQL itself runs on real ClickHouse in
 * test/integration/dashboards.test.ts.)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { JSON_DIR, renderDashboards } from '../../../dashboards/build.ts';
import { expectedColumns } from '../../../dashboards/src/clickhouse-query.ts';
import { CLICKHOUSE, DASHBOARD_UIDS, PROMETHEUS } from '../../../dashboards/src/datasources.ts';
import { DASHBOARDS } from '../../../dashboards/src/index.ts';
import { allPanels, allQueries, isClickHouse } from '../../../dashboards/src/inspect.ts';
import { ALL, expandQuery, MacroError } from '../../../dashboards/src/macros.ts';
import { createMetrics } from '../../../ingest/metrics.ts';
import { REPO_ROOT } from '../../../tools/local-stack/paths.ts';

const built = Object.entries(DASHBOARDS).map(([file, build]) => ({ file, d: build() }));

function validate(files: string[]) {
  const r = spawnSync('go', ['run', '.', ...files], {
    cwd: `${REPO_ROOT}dashboards/validate`,
    encoding: 'utf8',
    timeout: 300_000,
  });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error('go is not installed: the schema check runs the foundation SDK’s Go decoder (Go ≥ 1.24)');
  }
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('dashboards JSON', () => {
  it('is what `npm run dashboards` writes (committed, up to date)', () => {
    for (const [file, json] of renderDashboards()) {
      expect(readFileSync(join(JSON_DIR, file), 'utf8'), `${file}: run npm run dashboards`).toBe(json);
    }
  });

  it('is valid for the foundation SDK schema, and the check refuses what is not', {
    timeout: 300_000,
  }, () => {
    const files = built.map(({ file }) => join(JSON_DIR, file));
    const ok = validate(files);
    expect(ok.status, ok.output).toBe(0);
    expect(ok.output.match(/: valid$/gm)).toHaveLength(files.length);

    const dir = mkdtempSync(join(tmpdir(), 'tokenwatch-dash-'));
    try {
      const broken = (mend: (d: { panels: Record<string, unknown>[] }) => void) => {
        const d = JSON.parse(JSON.stringify(built[0]!.d)) as { panels: Record<string, unknown>[] };
        mend(d);
        const path = join(dir, `bad-${Math.random().toString(36).slice(2)}.json`);
        writeFileSync(path, JSON.stringify(d));
        return path;
      };
      const refused = validate([
        broken((d) => {
          (d.panels[0]!['gridPos'] as Record<string, unknown>)['unit'] = 'short';
        }),
        broken((d) => {
          (d.panels[1]!['targets'] as Record<string, unknown>[])[0]!['sql'] = 'SELECT 1';
        }),
      ]);
      expect(refused.status).toBe(1);
      expect(refused.output).toContain("unexpected field 'unit'");
      expect(refused.output).toContain('unknown field "sql"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(built)('$file: every datasource is one Grafana provisions', ({ d }) => {
    const known = [CLICKHOUSE, PROMETHEUS].map((ds) => `${ds.type}/${ds.uid}`);
    const refs = [
      ...allPanels(d)
        .filter((p) => p['type'] !== 'row')
        .map((p) => p['datasource']),
      ...allQueries(d).map((q) => q.datasource),
    ] as { type: string; uid: string }[];
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(known).toContain(`${ref.type}/${ref.uid}`);
    const provisioned = readFileSync(
      `${REPO_ROOT}dashboards/provisioning/datasources/tokenwatch.yaml`,
      'utf8',
    );
    for (const ds of [CLICKHOUSE, PROMETHEUS]) expect(provisioned).toContain(`uid: ${ds.uid}`);
  });

  it.each(built)(
    '$file: every variable used is defined, every link goes to a tokenwatch dashboard',
    ({ d }) => {
      const defined = new Set((d.templating?.list ?? []).map((v) => v.name));
      const texts = [
        ...allQueries(d).map((q) => q.text),
        ...(JSON.stringify(allPanels(d).map((p) => p['fieldConfig'])).match(/"url":"[^"]*"/g) ?? []),
      ];
      const used = new Set<string>();
      for (const t of texts) {
        for (const m of t.matchAll(/\$(\w+)|\$\{(\w+)[^}]*\}|\[\[(\w+)/g)) used.add(m[1] ?? m[2] ?? m[3]!);
      }
      const missing = [...used].filter((name) => !name.startsWith('__') && !defined.has(name));
      expect(missing).toEqual([]);
      const ours = Object.values(DASHBOARD_UIDS);
      const linked = [...JSON.stringify(d).matchAll(/\/d\/([\w-]+)/g)].map((m) => m[1]);
      expect(linked.length).toBeGreaterThan(0);
      for (const uid of linked) expect(ours).toContain(uid);
    },
  );

  it.each(built)('$file: panels have unique ids and sit on the grid without overlapping', ({ d }) => {
    const panels = allPanels(d);
    expect(new Set(panels.map((p) => p['id'])).size).toBe(panels.length);
    const taken = new Set<string>();
    for (const p of panels) {
      const g = p['gridPos'] as dashboard.GridPos;
      expect(g.x + g.w, String(p['title'])).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(taken.has(`${x},${y}`), `${String(p['title'])} overlaps at ${x},${y}`).toBe(false);
          taken.add(`${x},${y}`);
        }
      }
    }
  });

  it('every ClickHouse panel query declares the columns its panel reads', () => {
    const undeclared = built
      .flatMap(({ d }) => allQueries(d))
      .filter((q) => isClickHouse(q) && q.kind !== 'variable' && expectedColumns(q.text) === undefined)
      .map((q) => q.where);
    expect(undeclared).toEqual([]);
  });

  it('every PromQL expression parses (promtool) and reads metrics tokenwatch exports', async () => {
    const exprs = built
      .flatMap(({ d }) => allQueries(d)) // (a variable's label_values() is Grafana's, not PromQL)
      .filter((q) => q.datasource?.uid === PROMETHEUS.uid && q.kind !== 'variable');
    expect(exprs.length).toBeGreaterThan(20);
    const exported = new Set((await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
    const unknown = new Set<string>();
    for (const q of exprs) {
      for (const [, name] of q.text.matchAll(/\b(tokenwatch_\w+?)(?:_bucket|_sum|_count)?\b(?=[{[\s)])/g)) {
        if (!exported.has(name!)) unknown.add(`${q.where}: ${name}`);
      }
    }
    expect([...unknown]).toEqual([]);
    // promtool parses recording rules: Grafana's variables replaced by what they stand for.
    const rules = exprs.map((q, i) => ({
      record: `tokenwatch:dashboard_expr_${i}`,
      expr: q.text.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*'),
    }));
    const dir = mkdtempSync(join(tmpdir(), 'tokenwatch-promql-'));
    try {
      writeFileSync(join(dir, 'exprs.yml'), stringify({ groups: [{ name: 'dashboards', rules }] }));
      const r = spawnSync('promtool', ['check', 'rules', join(dir, 'exprs.yml')], { encoding: 'utf8' });
      if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
        throw new Error('promtool is not installed: apt-get install prometheus');
      }
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('expandQuery (as Grafana and the ClickHouse plugin expand)', () => {
  const ctx = { fromMs: 1_700_000_000_123, toMs: 1_700_003_600_999, intervalS: 90, variables: {} };

  it('time macros, as the plugin’s backend writes them', () => {
    expect(expandQuery('WHERE $__timeFilter(time) AND x < $__toTime', ctx)).toBe(
      'WHERE time >= toDateTime(1700000000) AND time <= toDateTime(1700003600) AND x < toDateTime(1700003600)',
    );
    expect(expandQuery('$__timeFilter_ms(t) $__fromTime_ms', ctx)).toBe(
      't >= fromUnixTimestamp64Milli(1700000000123) AND t <= fromUnixTimestamp64Milli(1700003600999) fromUnixTimestamp64Milli(1700000000123)',
    );
    expect(expandQuery('intDiv(x, $__interval_s) * $__interval_s', ctx)).toBe('intDiv(x, 90) * 90');
    expect(expandQuery('$__timeInterval(time)', ctx)).toBe(
      'toStartOfInterval(toDateTime(time), INTERVAL 90 second)',
    );
    expect(expandQuery('$__dateFilter(d)', ctx)).toBe(
      "d >= toDate('2023-11-14') AND d <= toDate('2023-11-14')",
    );
  });

  it('variables: the plugin’s own format, singlequote escaping, and $__conditionalAll', () => {
    const variables = { tenant: ['acme', 'o’reilly'], one: 'x', quoted: "o'brien", all: ALL, empty: '' };
    const v = { ...ctx, variables };
    expect(expandQuery('IN ($tenant) = ${one} [[one]]', v)).toBe("IN ('acme','o’reilly') = x x");
    expect(expandQuery('= ${quoted:singlequote} IN (${tenant:singlequote})', v)).toBe(
      "= 'o\\'brien' IN ('acme','o’reilly')",
    );
    expect(expandQuery('= ${quoted:sqlstring}', v)).toBe("= 'o''brien'");
    expect(expandQuery('WHERE $__conditionalAll(t IN (${all:singlequote}), $all) AND 1', v)).toBe(
      'WHERE 1=1 AND 1',
    );
    expect(expandQuery('WHERE $__conditionalAll(t = f(${one}, 2), ${empty})', v)).toBe('WHERE 1=1');
    expect(expandQuery('WHERE $__conditionalAll(t = f(${one}, 2), $one)', v)).toBe('WHERE t = f(x, 2)');
  });

  it('percentencode and queryparam leave no quote or backslash (Grafana’s encodeURIComponentStrict)', () => {
    const nasty = "a'b\\' OR 1=1 -- \"(*)!~%";
    const v = { ...ctx, variables: { one: nasty, many: [nasty, 'x y'] } };
    expect(expandQuery('${one:percentencode}', v)).toBe(
      'a%27b%5C%27%20OR%201%3D1%20--%20%22%28%2A%29%21~%25',
    );
    expect(expandQuery('${many:queryparam}', v)).toBe(
      'var-many=a%27b%5C%27%20OR%201%3D1%20--%20%22%28%2A%29%21~%25&var-many=x%20y',
    );
  });

  it('every ClickHouse query takes variables escaped (percentencode or queryparam), never quoted by Grafana', () => {
    const unsafe: string[] = [];
    for (const { d } of built)
      for (const q of allQueries(d).filter(isClickHouse))
        for (const m of q.text.matchAll(/\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(?!__)(\w+)/g)) {
          const format = m[2] ?? m[4];
          const isConditionalAllRef = m[5] !== undefined; // `$var` as $__conditionalAll's second argument
          if (
            isConditionalAllRef &&
            /,\s*$/.test(q.text.slice(0, m.index)) &&
            q.text.slice(m.index + m[0].length).startsWith(')')
          )
            continue;
          if (format !== 'percentencode' && format !== 'queryparam') unsafe.push(`${q.where}: ${m[0]}`);
        }
    expect(unsafe).toEqual([]);
  });

  it('says what is wrong: an unknown macro or variable, All outside $__conditionalAll, a bad format', () => {
    const v = { ...ctx, variables: { all: ALL, one: 'x' } };
    expect(() => expandQuery('$__timeFilterr(t)', v)).toThrow(/unknown macro \$__timeFilterr/);
    expect(() => expandQuery('$nope', v)).toThrow(/\$nope, which the dashboard does not define/);
    expect(() => expandQuery('IN (${all:singlequote})', v)).toThrow(/outside \$__conditionalAll/);
    expect(() => expandQuery('${one:json}', v)).toThrow(MacroError);
    expect(() => expandQuery('$__timeFilter(a, b)', v)).toThrow(/takes 1 argument, got 2/);
  });
});
