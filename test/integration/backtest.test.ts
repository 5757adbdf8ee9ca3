/**
 * `tokenwatch backtest` on stored events in a real ClickHouse: what would have fired, per detector,
 * with the rotation before --from read for state; the grace-window suggestion from two-tab refreshes;
 * a settings file's dry-run and thresholds; nothing written.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { BacktestReport } from '../../detectors/backtest/backtest.ts';
import { REPO_ROOT } from '../../tools/local-stack/paths.ts';
import { clickhouse, postEvents, scalar, serviceSetup, startService, TENANT } from '../support/harness.ts';

const run = promisify(execFile);
const BERLIN = '85.214.132.117';
const SAO_PAULO = '200.147.67.142';
const MINUTE = 60_000;

describe('tokenwatch backtest', () => {
  const ch = clickhouse();
  afterAll(async () => {
    await ch.close();
  });

  it('reports what would have fired, suggests a grace window, and acts on nothing', async () => {
    const setup = serviceSetup({ kafka: false, extra: { TOKENWATCH_DETECT: 'false' } });
    const service = await startService(setup.env);
    const t0 = Date.now() - 3 * 60 * MINUTE;
    const base = { tenant: TENANT, source: 'auth', client_id: 'spa', user_agent: 'Firefox/128.0' };
    const refresh = (id: string, subject: string, at: number, from: string, to: string, extra = {}) => ({
      ...base,
      event_id: id,
      type: 'refresh',
      subject,
      family_id: `fam-${subject}`,
      time: at,
      outcome: 'rotated',
      reason: 'ok',
      token_id: from,
      new_token_id: to,
      ip: BERLIN,
      device_id: 'laptop',
      ...extra,
    });
    const events = [
      // alice: rotated before --from, replayed from São Paulo inside the range
      refresh('a1', 'alice', t0, 'a-rt0', 'a-rt1'),
      refresh('a2', 'alice', t0 + 90 * MINUTE, 'a-rt0', 'a-rtx', { ip: SAO_PAULO, device_id: 'evil' }),
      // bob: two tabs, the second 4 s after the first (benign with a 30 s window)
      refresh('b1', 'bob', t0 + 70 * MINUTE, 'b-rt0', 'b-rt1'),
      refresh('b2', 'bob', t0 + 70 * MINUTE + 4000, 'b-rt0', 'b-rt1b'),
      // carol: her access token used in Berlin, then in Tokyo 5 minutes later
      {
        ...base,
        event_id: 'c1',
        type: 'verification',
        subject: 'carol',
        time: t0 + 80 * MINUTE,
        outcome: 'accepted',
        reason: 'ok',
        jti: 'c-j',
        ip: BERLIN,
      },
      {
        ...base,
        event_id: 'c2',
        type: 'verification',
        subject: 'carol',
        time: t0 + 85 * MINUTE,
        outcome: 'accepted',
        reason: 'ok',
        jti: 'c-j',
        ip: '133.242.0.1',
      },
    ];
    expect((await postEvents(service.url, events)).status).toBe(200);
    await service.stop();

    const settings = join(mkdtempSync(join(tmpdir(), 'tokenwatch-backtest-')), 'detectors.json');
    writeFileSync(
      settings,
      JSON.stringify({ thresholds: { graceWindowMs: 2000 }, dryRun: ['impossible_travel'] }),
    );
    const { stdout, stderr } = await run(
      process.execPath,
      [
        `${REPO_ROOT}service/cli.ts`,
        'backtest',
        '--from',
        new Date(t0 + 60 * MINUTE).toISOString(),
        '--to',
        String(t0 + 120 * MINUTE),
        '--warmup',
        '2h',
        '--config',
        settings,
        '--format',
        'json',
      ],
      { env: { PATH: process.env['PATH'] ?? '', ...setup.env } },
    );
    const report = JSON.parse(stdout) as BacktestReport;
    expect(stderr).toContain('backtest: reading stored events');
    expect(report.events).toEqual({ warmup: 1, in_range: 5 });
    expect(report.thresholds.graceWindowMs).toBe(2000);
    const replay = report.detectors['refresh_replay']!;
    expect(replay.subjects).toBe(2); // alice's replay, and bob's second tab: 4 s is past a 2 s window
    expect(replay.by_severity).toEqual({ critical: 1, high: 1 });
    expect(replay.samples.map((d) => d.subject).sort()).toEqual(['alice', 'bob']);
    expect(report.detectors.impossible_travel).toMatchObject({ dry_run: true, subjects: 2 }); // alice's family, carol's jti
    expect(report.detectors['impossible_travel']!.samples.every((d) => d.dry_run)).toBe(true);
    expect(report.refresh_gaps).toMatchObject({
      current_grace_window_ms: 2000,
      suggested_grace_window_ms: 6000,
    });
    expect(report.refresh_gaps.clients).toEqual([
      expect.objectContaining({ client_id: 'spa', concurrent: 1, p99_ms: 4000, beyond_grace: 1 }),
    ]);
    // Nothing was stored or acted on.
    expect(await scalar(ch, `SELECT count() FROM ${setup.database}.detections`)).toBe(0);

    const markdown = await run(
      process.execPath,
      [
        `${REPO_ROOT}service/cli.ts`,
        'backtest',
        '--from',
        String(t0 + 60 * MINUTE),
        '--to',
        String(t0 + 120 * MINUTE),
      ],
      { env: { PATH: process.env['PATH'] ?? '', ...setup.env } },
    );
    expect(markdown.stdout).toContain('| refresh_replay | 1 | 1 |'); // default 30 s grace: bob's tabs are benign
    expect(markdown.stdout).toContain('## Refresh grace window');
  });

  it('explains a bad invocation', async () => {
    const failed = await run(
      process.execPath,
      [`${REPO_ROOT}service/cli.ts`, 'backtest', '--from', 'yesterday'],
      {
        env: { PATH: process.env['PATH'] ?? '' },
      },
    ).catch((err: { code: number; stderr: string }) => err);
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toContain(
      '--from "yesterday" is not an RFC 3339 time or epoch ms',
    );
  });
});
