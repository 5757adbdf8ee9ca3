import { describe, expect, it } from 'vitest';
import { renderBody, type WebhookMessage } from '../../../../response/webhooks/formats.ts';
import { StormFold } from '../../../../response/webhooks/storm.ts';
import { alert } from './helpers.ts';

const group = (alerts = [alert()], omitted = 0): WebhookMessage => ({
  delivery_id: 'dlv-1',
  group_key: 'acme/user-7/refresh_replay',
  alerts,
  omitted,
});

const many = (n: number) =>
  Array.from({ length: n }, (_, i) => alert({ title: `finding ${i}`, fields: { detection_id: `d-${i}` } }));

/** A storm summary of `groups` groups over two tenants and two detectors. */
function storm(groups: number): WebhookMessage {
  const fold = new StormFold();
  for (let i = 0; i < groups; i++) {
    const a = alert({
      group_key: `g-${i}`,
      tenant: i % 3 === 0 ? 'globex' : 'acme',
      detector: i % 2 === 0 ? 'refresh_replay' : 'impossible_travel',
      severity: i === 7 ? 'critical' : 'high',
      title: `incident ${i}`,
      time_ms: 1_760_000_000_000 + i,
    });
    fold.add({ group_key: a.group_key, alerts: [a, a], omitted: 0 }, 0, 60_000);
  }
  return fold.take('dlv-storm', 0);
}

describe('generic format', () => {
  it('carries the alerts as they are, with version, delivery id and group key', () => {
    const body = JSON.parse(renderBody('generic', group()));
    expect(body).toEqual({
      version: '1',
      delivery_id: 'dlv-1',
      group_key: 'acme/user-7/refresh_replay',
      alerts: [alert()],
      omitted: 0,
    });
  });

  it('carries at most 50 alerts and counts the rest, with those already omitted', () => {
    const body = JSON.parse(renderBody('generic', group(many(60), 7)));
    expect(body.alerts).toHaveLength(50);
    expect(body.omitted).toBe(17);
  });

  it('adds the storm summary, with the first groups as sample alerts', () => {
    const body = JSON.parse(renderBody('generic', storm(214)));
    expect(body.group_key).toBe('tokenwatch:storm');
    expect(body.storm).toMatchObject({
      title: 'Alert storm: 428 incidents in 214 groups',
      severity: 'critical',
      groups: 214,
      alerts: 428,
      by_tenant: { acme: 284, globex: 144 },
      by_detector: { refresh_replay: 214, impossible_travel: 214 },
      by_severity: { high: 426, critical: 2 },
      first_ms: 1_760_000_000_000,
    });
    expect(body.storm.text).toContain('By tenant: acme 284, globex 144');
    expect(body.storm.text).toContain('• incident 0 (2 alerts)');
    expect(body.storm.text).toContain('• … and 209 more groups');
    expect(body.alerts.map((a: { title: string }) => a.title)).toEqual([
      'incident 0',
      'incident 1',
      'incident 2',
      'incident 3',
      'incident 4',
    ]);
    expect(body.omitted).toBe(428 - 5);
  });
});

describe('slack format', () => {
  it('is text plus blocks: a header with severity and title, a section per alert with fields', () => {
    const body = JSON.parse(
      renderBody('slack', group([alert({ title: 'a <b> & c' }), alert({ severity: 'critical' })])),
    );
    expect(body.text).toBe(
      ':fire: CRITICAL: Refresh token replay — user-7, family f-12: family revoked (+1 more)',
    );
    const [header, first, second] = body.blocks;
    expect(header).toEqual({
      type: 'header',
      text: {
        type: 'plain_text',
        text: 'CRITICAL: Refresh token replay — user-7, family f-12: family revoked',
        emoji: true,
      },
    });
    expect(first.type).toBe('section');
    expect(first.text).toEqual({
      type: 'mrkdwn',
      text: `*<${alert().url?.replace('&', '&amp;')}|a &lt;b&gt; &amp; c>*\n${alert().text}`,
    });
    expect(first.fields).toContainEqual({ type: 'mrkdwn', text: '*Tenant*\nacme' });
    expect(first.fields).toContainEqual({ type: 'mrkdwn', text: '*family_id*\nf-12' });
    expect(second.type).toBe('section');
    expect(body.blocks).toHaveLength(3);
  });

  it('shows at most 10 alerts, then "and N more"', () => {
    const body = JSON.parse(renderBody('slack', group(many(25), 5)));
    expect(body.blocks.filter((b: { type: string }) => b.type === 'section')).toHaveLength(10);
    expect(body.blocks.at(-1)).toEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: 'and 20 more' }],
    });
  });

  it('renders a storm as its summary', () => {
    const body = JSON.parse(renderBody('slack', storm(30)));
    expect(body.blocks[0].text.text).toBe('CRITICAL: Alert storm: 60 incidents in 30 groups');
    expect(body.blocks[1].text.text).toContain('By detector: refresh_replay 30, impossible_travel 30');
    expect(body.blocks).toHaveLength(2);
  });
});

describe('alertmanager format', () => {
  it('is an array with one alert per alert: alertname by kind, labels, annotations, startsAt, generatorURL', () => {
    const guard = alert({
      kind: 'guard_tripped',
      subject: '',
      detector: '',
      severity: 'critical',
      fields: { 'revocations/min': 120 },
      url: undefined,
    });
    const body = JSON.parse(renderBody('alertmanager', group([alert(), guard])));
    expect(body).toEqual([
      {
        labels: {
          alertname: 'TokenwatchDetection',
          severity: 'high',
          tenant: 'acme',
          subject: 'user-7',
          detector: 'refresh_replay',
          group_key: 'acme/user-7/refresh_replay',
          detection_id: 'd-1',
          family_id: 'f-12',
          response: 'revoked',
        },
        annotations: { summary: alert().title, description: alert().text },
        startsAt: '2025-10-09T08:53:20.000Z',
        generatorURL: alert().url,
      },
      {
        labels: {
          alertname: 'TokenwatchGuardTripped',
          severity: 'critical',
          tenant: 'acme',
          group_key: 'acme/user-7/refresh_replay',
          revocations_min: '120',
        },
        annotations: { summary: alert().title, description: alert().text },
        startsAt: '2025-10-09T08:53:20.000Z',
      },
    ]);
  });

  it('names revocation failures, and a storm is one TokenwatchAlertStorm alert', () => {
    const failed = JSON.parse(renderBody('alertmanager', group([alert({ kind: 'revocation_failed' })])));
    expect(failed[0].labels.alertname).toBe('TokenwatchRevocationFailed');
    const body = JSON.parse(renderBody('alertmanager', storm(25)));
    expect(body).toHaveLength(1);
    expect(body[0].labels).toEqual({ alertname: 'TokenwatchAlertStorm', severity: 'critical' });
    expect(body[0].annotations.summary).toBe('Alert storm: 50 incidents in 25 groups');
  });
});
