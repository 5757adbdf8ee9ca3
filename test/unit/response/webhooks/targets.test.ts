import { describe, expect, it } from 'vitest';
import { matches, parseWebhookTargets, type WebhookTarget } from '../../../../response/webhooks/targets.ts';
import { alert } from './helpers.ts';

const minimal = { name: 'oncall', url: 'http://127.0.0.1:9/hook', format: 'generic' } as const;
const parse = (json: unknown) => parseWebhookTargets(json, 'webhooks.json');

describe('parseWebhookTargets', () => {
  it('fills the defaults: unsigned, every severity, every detector and kind, no headers', () => {
    expect(parse([minimal])).toEqual([
      {
        ...minimal,
        secret: '',
        previousSecret: '',
        minSeverity: 'low',
        detectors: [],
        kinds: [],
        headers: {},
      } satisfies WebhookTarget,
    ]);
  });

  it('keeps everything given, an http URL with a secret included', () => {
    const full = {
      name: 'am',
      url: 'https://am.internal:9093/api/v2/alerts',
      format: 'alertmanager',
      secret: 's1',
      previousSecret: 's0',
      minSeverity: 'high',
      detectors: ['refresh_replay'],
      kinds: ['detection', 'guard_tripped'],
      headers: { Authorization: 'Bearer x' },
    };
    expect(parse([full, { ...minimal, secret: 's' }])).toMatchObject([full, { secret: 's' }]);
  });

  it.each([
    [{}, /webhook targets in webhooks\.json: \(top level\): expected an array of targets, got \{\}/],
    [[5], /target 0: expected an object with name, url, format/],
    [[{ url: minimal.url, format: 'generic' }], /target 0: name is missing; it must be a non-empty string/],
    [
      [{ ...minimal, format: 'teams' }],
      /target 0 \("oncall"\): format is "teams"; it must be one of generic, slack/,
    ],
    [
      [{ ...minimal, url: 'ftp://x/y' }],
      /target 0 \("oncall"\): url is "ftp:\/\/x\/y"; it must be an http:\/\/ or https/,
    ],
    [[{ ...minimal, url: 'not a url' }], /url is "not a url"; it must be an http:\/\/ or https:\/\/ URL/],
    [
      [{ ...minimal, minSeverity: 'urgent' }],
      /minSeverity is "urgent"; it must be one of low, medium, high, critical/,
    ],
    [
      [{ ...minimal, detectors: ['refresh-replay'] }],
      /detectors is "refresh-replay" at \/detectors\/0; .*refresh_replay/,
    ],
    [[{ ...minimal, kinds: ['detections'] }], /kinds is "detections" at \/kinds\/0; .*guard_tripped/],
    [[{ ...minimal, secret: 42 }], /secret is 42; it must be a string/],
    [
      [{ ...minimal, headers: { 'X-Key': 1 } }],
      /headers is 1 at \/headers\/X-Key; it must be an object of header/,
    ],
    [
      [{ ...minimal, headers: { 'Tokenwatch-Signature': 'x' } }],
      /headers: Tokenwatch-Signature is set by tokenwatch/,
    ],
    [[{ ...minimal, headers: { 'bad name': 'x' } }], /headers: "bad name" is not a header name/],
    [[{ ...minimal, headers: { 'X-A': 'a\r\nb' } }], /headers: the value of X-A holds a line break/],
    [[{ ...minimal, minSeverty: 'high' }], /unknown field "minSeverty"; the fields are name, url, format/],
    [[minimal, { ...minimal, url: 'https://b/' }], /target 1 \("oncall"\): name: "oncall" is used twice/],
  ])('rejects %j naming the target and field', (json, message) => {
    expect(() => parse(json)).toThrow(message);
  });
});

describe('matches', () => {
  const target = (over: Partial<WebhookTarget>): WebhookTarget => ({ ...parse([minimal])[0]!, ...over });

  it('filters by minimum severity', () => {
    const t = target({ minSeverity: 'high' });
    expect(matches(t, alert({ severity: 'medium' }))).toBe(false);
    expect(matches(t, alert({ severity: 'high' }))).toBe(true);
    expect(matches(t, alert({ severity: 'critical' }))).toBe(true);
  });

  it('filters detections by detector; alerts without a detector are left to the kinds filter', () => {
    const t = target({ detectors: ['impossible_travel'] });
    expect(matches(t, alert({ detector: 'refresh_replay' }))).toBe(false);
    expect(matches(t, alert({ detector: 'impossible_travel' }))).toBe(true);
    expect(matches(t, alert({ kind: 'guard_tripped', detector: '' }))).toBe(true);
    expect(matches({ ...t, kinds: ['detection'] }, alert({ kind: 'guard_tripped', detector: '' }))).toBe(
      false,
    );
  });

  it('filters by kind', () => {
    const t = target({ kinds: ['revocation_failed'] });
    expect(matches(t, alert())).toBe(false);
    expect(matches(t, alert({ kind: 'revocation_failed' }))).toBe(true);
  });
});
