/**
 * The Prometheus alerting rules, their tests and runbooks, and the Prometheus and Alertmanager
 * configuration (dashboards/prometheus/): checked by promtool and amtool, and against tokenwatch's
 * own metrics registry.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../../../ingest/metrics.ts';
import { REPO_ROOT } from '../../../tools/local-stack/paths.ts';

const DIR = 'dashboards/prometheus';
const read = (file: string) => readFileSync(`${REPO_ROOT}${DIR}/${file}`, 'utf8');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (parse(read('rules.yml')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

interface AlertTest {
  alertname: string;
  exp_alerts?: { exp_labels: Record<string, string> }[];
}
const alertTests = (
  parse(read('rules.test.yml')) as { tests: { alert_rule_test?: AlertTest[] }[] }
).tests.flatMap((t) => t.alert_rule_test ?? []);

const readme = read('README.md');

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: REPO_ROOT, encoding: 'utf8' });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    throw new Error(`${cmd} is not installed: apt-get install prometheus prometheus-alertmanager`);
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, output: `$ ${cmd} ${args.join(' ')}\n${r.stdout}${r.stderr}` };
}

describe('promtool and amtool', () => {
  const commands: [string, ...string[]][] = [
    ['promtool', 'check', 'rules', `${DIR}/rules.yml`],
    ['promtool', 'test', 'rules', `${DIR}/rules.test.yml`],
    // rule_files is relative ("rules.yml"): the same layout as /etc/prometheus in the container
    ['promtool', 'check', 'config', `${DIR}/prometheus.yml`],
    ['amtool', 'check-config', `${DIR}/alertmanager.yml`],
  ];
  for (const [cmd, ...args] of commands) {
    // a subprocess: seconds on a machine busy with the rest of the suite
    it(`${cmd} ${args.join(' ')}`, { timeout: 60_000 }, () => {
      const { status, output } = run(cmd, args);
      expect(status, output).toBe(0);
    });
  }

  it('Alertmanager routes pages, tickets and info (and tokenwatch’s own severities) apart', {
    timeout: 60_000,
  }, () => {
    const cases: [string, string][] = [
      ['severity=page', 'oncall-page'],
      ['severity=critical', 'oncall-page'],
      ['severity=high', 'oncall-page'],
      ['severity=ticket', 'oncall-ticket'],
      ['severity=medium', 'oncall-ticket'],
      ['severity=info', 'null'],
    ];
    for (const [label, receiver] of cases) {
      const r = run('amtool', ['config', 'routes', 'test', `--config.file=${DIR}/alertmanager.yml`, label]);
      expect(r.status, r.output).toBe(0);
      expect(r.stdout.trim(), r.output).toBe(receiver);
    }
  });
});

describe('alerting rules', () => {
  const names = [...new Set(rules.map((r) => r.alert))];

  it('are all alerts, with severity, team, summary, description and a runbook', () => {
    expect(names.length).toBeGreaterThan(20);
    for (const r of rules) {
      const where = `${r.alert}: ${r.expr}`;
      expect(r.alert, where).toMatch(/^Tokenwatch[A-Za-z]+$/);
      expect(['page', 'ticket', 'info'], where).toContain(r.labels?.['severity']);
      expect(['security', 'platform'], where).toContain(r.labels?.['team']);
      expect(r.annotations?.['summary'], where).toBeTruthy();
      expect(r.annotations?.['description'], where).toContain('{{ $');
      expect(r.annotations?.['runbook']?.length ?? 0, where).toBeGreaterThanOrEqual(80);
    }
  });

  it('link runbooks in the README that show each runbook as the annotation carries it', () => {
    const anchors = new Set(
      [...readme.matchAll(/^#+\s+(.+)$/gm)].map((m) =>
        m[1]!
          .toLowerCase()
          .replace(/[^\w\- ]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    for (const r of rules) {
      const url = r.annotations?.['runbook_url'] ?? '';
      expect(url, r.alert).toMatch(new RegExp(`^${DIR}/README\\.md#`));
      expect(anchors, `${r.alert}: ${url}`).toContain(url.split('#')[1]);
      const section = readme.split(`\n### ${r.alert}\n`)[1]?.split('\n### ')[0] ?? '';
      expect(section, `README section of ${r.alert}`).toContain(r.annotations?.['runbook']);
    }
  });

  it('each fire in one test of rules.test.yml and stay quiet in another', () => {
    const fired = new Set(
      alertTests.flatMap((t) => (t.exp_alerts ?? []).map((a) => a.exp_labels['alertname'])),
    );
    const quiet = new Set(
      alertTests.filter((t) => (t.exp_alerts ?? []).length === 0).map((t) => t.alertname),
    );
    expect(names.filter((n) => !fired.has(n))).toEqual([]);
    expect(names.filter((n) => !quiet.has(n))).toEqual([]);
  });

  it('use only metrics tokenwatch exports, with their labels', async () => {
    const { registry } = createMetrics();
    // metric name → the labels its series may carry (job and instance come from the scrape)
    const known = new Map<string, Set<string>>();
    for (const m of await registry.getMetricsAsJSON()) {
      const own = (registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] }).labelNames ?? [];
      const labels = new Set(['job', 'instance', ...own]);
      if (String(m.type) !== 'histogram') known.set(m.name, labels);
      else {
        known.set(`${m.name}_bucket`, new Set([...labels, 'le']));
        known.set(`${m.name}_sum`, labels);
        known.set(`${m.name}_count`, labels);
      }
    }
    known.set('up', new Set(['job', 'instance']));

    const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
    const used = new Set<string>();
    for (const r of rules) {
      // selectors with their label matchers
      for (const m of r.expr.matchAll(/(?<![\w.])([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}/g)) {
        const labels = known.get(m[1]!);
        expect(labels, `${r.alert}: metric ${m[1]}`).toBeDefined();
        for (const [, label] of m[2]!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g))
          expect([...labels!], `${r.alert}: label ${label} of ${m[1]}`).toContain(label);
      }
      // every other name that is not a function, keyword or label list
      const bare = r.expr
        .replace(/"(?:[^"\\]|\\.)*"/g, '""')
        .replace(/\{[^}]*\}/g, '')
        .replace(/\[[^\]]*\]/g, '')
        .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
      for (const m of bare.matchAll(/(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
        if (m[2] !== undefined || keywords.has(m[1]!)) continue;
        used.add(m[1]!);
        expect(known.has(m[1]!), `${r.alert}: metric ${m[1]}`).toBe(true);
      }
    }
    expect(used).toContain('tokenwatch_findings_total');
    expect(used).toContain('tokenwatch_time_to_revoke_seconds_bucket');
  });
});
