/**
 * The executor's client behaviour, step by step, against small recording implementations of its own
 * ports (AuthPort, ApiPort): when a device logs in, refreshes (proactively or on a 401, every tab at
 * once), retries, logs out; what attackers present; and that the simulated clock never runs ahead
 * of a step under way. The real ports against the real auth server and SDK run in
 * test/integration/simulator.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createDpopChecker } from '../../../../sdk/src/dpop.ts';
import { SimClock } from '../../../../tools/simulator/clock.ts';
import { type AttackEvent, Executor, type ExecutorOptions } from '../../../../tools/simulator/executor.ts';
import type { Device, Network, User } from '../../../../tools/simulator/population.ts';
import type {
  ApiPort,
  AuthPort,
  Caller,
  CallResult,
  TokenResponse,
} from '../../../../tools/simulator/ports.ts';
import { Random } from '../../../../tools/simulator/random.ts';
import type { Source, Step } from '../../../../tools/simulator/steps.ts';

const START = Date.UTC(2025, 2, 4, 8);
const MIN = 60_000;
const TTL_MS = 15 * MIN;

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const decode = (part: string) =>
  JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
const HEADER = { alg: 'EdDSA', typ: 'at+jwt', kid: 'k1' };

type AuthCall =
  | { op: 'login'; subject: string; caller: Caller; nowMs: number }
  | { op: 'refresh'; token: string; caller: Caller; nowMs: number }
  | { op: 'revoke'; token: string; hint: string; caller: Caller; nowMs: number };

/** An auth server in miniature: JWT-shaped access tokens, rotating refresh tokens used once. */
class RecordingAuth implements AuthPort {
  readonly log: AuthCall[] = [];
  /** refuse every refresh from now on (a revoked family) */
  refuseRefreshes = false;
  readonly #refresh = new Map<string, { subject: string; used: boolean }>();
  /** every access token issued: what the API accepts as signed */
  readonly issued = new Set<string>();
  #n = 0;
  readonly clock: SimClock;
  readonly delay: () => Promise<void>;
  constructor(clock: SimClock, delay: () => Promise<void> = async () => undefined) {
    this.clock = clock;
    this.delay = delay;
  }

  #issue(subject: string): TokenResponse {
    const n = ++this.#n;
    const exp = Math.floor((this.clock.now() + TTL_MS) / 1000);
    const access = `${b64(HEADER)}.${b64({ sub: subject, jti: `jti-${n}`, exp, scope: 'orders' })}.sig-${n}`;
    const refresh = `rt-${n}`;
    this.issued.add(access);
    this.#refresh.set(refresh, { subject, used: false });
    return { status: 200, body: { access_token: access, refresh_token: refresh, token_type: 'Bearer' } };
  }

  /** the DPoP key each login asked to bind the session to (undefined: a bearer session) */
  readonly loginKeys: (string | undefined)[] = [];

  async login(subject: string, caller: Caller, dpopJkt?: string) {
    this.log.push({ op: 'login', subject, caller, nowMs: this.clock.now() });
    this.loginKeys.push(dpopJkt);
    await this.delay();
    return this.#issue(subject);
  }

  async refresh(token: string, caller: Caller) {
    this.log.push({ op: 'refresh', token, caller, nowMs: this.clock.now() });
    const family = this.#refresh.get(token);
    if (family === undefined || family.used || this.refuseRefreshes)
      return { status: 400, body: { error: 'invalid_grant' } };
    family.used = true;
    await this.delay();
    return this.#issue(family.subject);
  }

  async revoke(token: string, hint: 'access_token' | 'refresh_token', caller: Caller) {
    this.log.push({ op: 'revoke', token, hint, caller, nowMs: this.clock.now() });
    return 200;
  }

  ops = () => this.log.map((c) => c.op);
}

/** An API in miniature: refuses expired and revoked tokens, records every call. */
class RecordingApi implements ApiPort {
  readonly calls: { source: Source; token: string; caller: Caller; nowMs: number; result: CallResult }[] = [];
  readonly revocations: { jti: string; subject: string; expiresAtMs: number }[] = [];
  readonly clock: SimClock;
  readonly auth: RecordingAuth;
  readonly delay: () => Promise<void>;
  constructor(clock: SimClock, auth: RecordingAuth, delay: () => Promise<void> = async () => undefined) {
    this.clock = clock;
    this.auth = auth;
    this.delay = delay;
  }

  async call(source: Source, token: string, caller: Caller): Promise<CallResult> {
    const nowMs = this.clock.now();
    await this.delay();
    const claims = decode(token.split('.')[1] ?? '');
    const result: CallResult = !this.auth.issued.has(token)
      ? { ok: false, reason: 'bad_signature' } // what the auth server did not sign, byte for byte
      : Number(claims['exp']) * 1000 <= this.clock.now()
        ? { ok: false, reason: 'expired' }
        : this.revocations.some((r) => r.jti === claims['jti'])
          ? { ok: false, reason: 'revoked' }
          : { ok: true };
    this.calls.push({ source, token, caller, nowMs, result });
    return result;
  }

  revoked(jti: string, subject: string, expiresAtMs: number) {
    this.revocations.push({ jti, subject, expiresAtMs });
  }
}

const net = (ip: string, kind: Network['kind'] = 'home'): Network => ({
  ip,
  kind,
  city: 'Berlin',
  country: 'DE',
});
const HOME = net('94.134.133.183');
const THIEF = net('46.28.90.98', 'attacker');

function user(subject: string, devices: Partial<Device>[] = [{}]): User {
  return {
    subject,
    home: { name: 'Berlin', country: 'DE', lat: 52.5, lon: 13.4, fixed: [], mobile: [] },
    homeNet: HOME,
    officeNet: HOME,
    remote: false,
    vpn: false,
    utcOffsetH: 1,
    devices: devices.map((d) => ({
      id: `${subject}-laptop`,
      kind: 'laptop',
      userAgent: `ua-${subject}`,
      proactive: false,
      tabs: 1,
      flaky: false,
      ...d,
    })),
  };
}

const call = (
  at: number,
  subject: string,
  device = `${subject}-laptop`,
  n = HOME,
  source: Source = 'api-gateway',
): Step => ({
  at,
  subject,
  kind: 'call',
  device,
  net: n,
  source,
});

function setup(users: User[], o: Partial<ExecutorOptions> & { delay?: () => Promise<void> } = {}) {
  const clock = new SimClock(true, START);
  const auth = new RecordingAuth(clock, o.delay);
  const api = new RecordingApi(clock, auth, o.delay);
  const attackEvents: AttackEvent[] = [];
  const executor = new Executor({
    users,
    auth,
    api,
    clock,
    seed: 'unit',
    onAttackStep: (e) => attackEvents.push(e),
    ...o,
  });
  return { clock, auth, api, executor, attackEvents };
}

const claimsOf = (token: string) => decode(token.split('.')[1]!);

describe('Executor: a client', () => {
  it('a DPoP-bound device logs in with its key and proves the same key on every call (a stale tab too), from any network', async () => {
    const exit = net('45.32.14.1', 'consumer_vpn');
    const { auth, api, executor } = setup([user('dora', [{ dpop: true }]), user('bob')]);
    await executor.run([
      call(1000, 'dora'),
      call(2000, 'bob'),
      call(60_000, 'dora', 'dora-laptop', exit),
      // after logging out, a stale tab presents the old token once: with a proof too
      { at: 2 * MIN, subject: 'dora', kind: 'logout', device: 'dora-laptop', net: HOME, staleTab: true },
    ]);
    const keyOf = (subject: string) =>
      auth.loginKeys[auth.log.findIndex((l) => l.op === 'login' && l.subject === subject)];
    const [jkt, bobKey] = [keyOf('dora'), keyOf('bob')];
    expect(jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(bobKey).toBeUndefined();
    const checker = createDpopChecker();
    const dora = api.calls.filter((c) => c.caller.deviceId === 'dora-laptop');
    expect(dora.map((c) => c.caller.ip)).toStrictEqual([HOME.ip, exit.ip, HOME.ip]);
    for (const c of dora) expect(await checker.check(c.caller.dpop!, c.token, c.nowMs)).toBe(jkt);
    // a proof is for its own token: presented with another it proves nothing
    expect(await checker.check(dora[0]!.caller.dpop!, 'another.token.here', dora[0]!.nowMs)).not.toBe(jkt);
    expect(api.calls.find((c) => c.caller.deviceId === 'bob-laptop')!.caller.dpop).toBeUndefined();
  });

  it('a device with no session logs in first, then calls with the access token it got', async () => {
    const { auth, api, executor } = setup([user('alice')]);
    await executor.run([call(1000, 'alice')]);
    expect(auth.log).toStrictEqual([
      {
        op: 'login',
        subject: 'alice',
        caller: { ip: HOME.ip, deviceId: 'alice-laptop', userAgent: 'ua-alice' },
        nowMs: START + 1000,
      },
    ]);
    expect(api.calls).toHaveLength(1);
    expect(api.calls[0]).toMatchObject({
      source: 'api-gateway',
      caller: { ip: HOME.ip, deviceId: 'alice-laptop', userAgent: 'ua-alice' },
      result: { ok: true },
    });
    expect(claimsOf(api.calls[0]!.token)).toMatchObject({ sub: 'alice', jti: 'jti-1' });
    expect(executor.stats).toMatchObject({
      steps: 1,
      logins: 1,
      refreshes: 0,
      calls: 1,
      callsAccepted: 1,
      errors: 0,
    });
  });

  it("a browser refreshes only on a 401 'expired' — every open tab at once, the same refresh token — and retries", async () => {
    const { auth, api, executor } = setup([user('bob', [{ tabs: 3 }])]);
    await executor.run([call(0, 'bob'), call(5 * MIN, 'bob'), call(20 * MIN, 'bob')]);
    expect(auth.ops()).toStrictEqual(['login', 'refresh', 'refresh', 'refresh']);
    const presented = auth.log.filter((c) => c.op === 'refresh').map((c) => c.token);
    expect(presented).toStrictEqual(['rt-1', 'rt-1', 'rt-1']);
    expect(auth.log.filter((c) => c.op === 'refresh').every((c) => c.nowMs === START + 20 * MIN)).toBe(true);
    expect(api.calls.map((c) => [claimsOf(c.token)['jti'], c.result])).toStrictEqual([
      ['jti-1', { ok: true }],
      ['jti-1', { ok: true }], // 5 minutes in: no refresh, the browser does not look at exp
      ['jti-1', { ok: false, reason: 'expired' }],
      ['jti-2', { ok: true }], // the retry, with the one answer that was a rotation
    ]);
    expect(executor.stats).toMatchObject({
      logins: 1,
      refreshes: 3,
      refreshesRefused: 0,
      calls: 4,
      callsAccepted: 3,
      rejected: { expired: 1 },
    });
  });

  it('an app refreshes shortly before its access token expires, and never presents an expired one', async () => {
    const phone = { id: 'carol-phone', kind: 'phone' as const, proactive: true, userAgent: 'app' };
    const { auth, api, executor } = setup([user('carol', [phone])]);
    await executor.run([
      call(0, 'carol', 'carol-phone', HOME, 'mobile-bff'),
      call(10 * MIN, 'carol', 'carol-phone', HOME, 'mobile-bff'),
      call(14.5 * MIN, 'carol', 'carol-phone', HOME, 'mobile-bff'),
      call(16 * MIN, 'carol', 'carol-phone', HOME, 'mobile-bff'),
    ]);
    expect(auth.ops()).toStrictEqual(['login', 'refresh']);
    expect(auth.log[1]).toMatchObject({ op: 'refresh', token: 'rt-1', nowMs: START + 14.5 * MIN });
    expect(api.calls.map((c) => claimsOf(c.token)['jti'])).toStrictEqual([
      'jti-1',
      'jti-1',
      'jti-2',
      'jti-2',
    ]);
    expect(api.calls.every((c) => c.result.ok && c.source === 'mobile-bff')).toBe(true);
    expect(executor.stats.rejected).toStrictEqual({});
  });

  it('a refused refresh means logging in again; a refresh step without a session logs in', async () => {
    const { auth, api, executor } = setup([user('dave'), user('erin')]);
    await executor.run([
      call(0, 'dave'),
      { at: 1000, subject: 'erin', kind: 'refresh', device: 'erin-laptop', net: HOME },
    ]);
    expect(auth.ops()).toStrictEqual(['login', 'login']);
    auth.refuseRefreshes = true;
    await executor.run([call(20 * MIN, 'dave')]);
    expect(auth.ops()).toStrictEqual(['login', 'login', 'refresh', 'login']);
    const last = api.calls.at(-1)!;
    expect(last.result).toStrictEqual({ ok: true });
    expect(claimsOf(last.token)).toMatchObject({ sub: 'dave', jti: 'jti-3' });
    expect(executor.stats).toMatchObject({ logins: 3, refreshes: 1, refreshesRefused: 1, errors: 0 });
  });

  it('a flaky phone loses a refresh answer now and then and presents the same token once more; a steady one never', async () => {
    const flaky = { id: 'fay-phone', kind: 'phone' as const, proactive: true, flaky: true };
    const steady = { id: 'gus-phone', kind: 'phone' as const, proactive: true, flaky: false };
    const { auth, executor } = setup([user('fay', [flaky]), user('gus', [steady])]);
    const steps: Step[] = [];
    for (let i = 0; i < 40; i++) {
      steps.push(call(i * 14.5 * MIN, 'fay', 'fay-phone'));
      steps.push(call(i * 14.5 * MIN + 1000, 'gus', 'gus-phone'));
    }
    await executor.run(steps);
    const presentations = (who: string) => {
      const n = new Map<string, number>();
      for (const c of auth.log)
        if (c.op === 'refresh' && c.caller.deviceId === who) n.set(c.token, (n.get(c.token) ?? 0) + 1);
      return [...n.values()];
    };
    expect(presentations('fay-phone').filter((n) => n === 2).length).toBeGreaterThan(3);
    expect(Math.max(...presentations('fay-phone'))).toBe(2);
    expect(presentations('gus-phone').length).toBe(39);
    expect(Math.max(...presentations('gus-phone'))).toBe(1);
    expect(executor.stats.errors).toBe(0);
  });

  it('logout revokes the access and the refresh token, tells the API the jti, and forgets the session', async () => {
    const { auth, api, executor } = setup([user('hal')]);
    await executor.run([
      call(0, 'hal'),
      { at: MIN, subject: 'hal', kind: 'logout', device: 'hal-laptop', net: HOME, staleTab: true },
      call(2 * MIN, 'hal'),
    ]);
    const access = api.calls[0]!.token;
    const caller = { ip: HOME.ip, deviceId: 'hal-laptop', userAgent: 'ua-hal' };
    expect(auth.log.filter((c) => c.op === 'revoke')).toStrictEqual([
      { op: 'revoke', token: access, hint: 'access_token', caller, nowMs: START + MIN },
      { op: 'revoke', token: 'rt-1', hint: 'refresh_token', caller, nowMs: START + MIN },
    ]);
    expect(api.revocations).toStrictEqual([
      { jti: 'jti-1', subject: 'hal', expiresAtMs: Number(claimsOf(access)['exp']) * 1000 },
    ]);
    // the stale tab presents the old token once, refused as revoked; the next call logs in afresh
    expect(api.calls.map((c) => [c.token === access, c.source, c.result])).toStrictEqual([
      [true, 'api-gateway', { ok: true }],
      [true, 'api-gateway', { ok: false, reason: 'revoked' }],
      [false, 'api-gateway', { ok: true }],
    ]);
    expect(auth.ops()).toStrictEqual(['login', 'revoke', 'revoke', 'login']);
    expect(executor.stats).toMatchObject({ logouts: 1, logins: 2, rejected: { revoked: 1 } });
  });

  it('logout without a stale tab presents nothing after; logout of a device without a session does nothing', async () => {
    const { auth, api, executor } = setup([user('ida'), user('jon')]);
    await executor.run([
      call(0, 'ida'),
      { at: MIN, subject: 'ida', kind: 'logout', device: 'ida-laptop', net: HOME, staleTab: false },
      { at: MIN, subject: 'jon', kind: 'logout', device: 'jon-laptop', net: HOME, staleTab: true },
    ]);
    expect(api.calls).toHaveLength(1);
    expect(auth.ops()).toStrictEqual(['login', 'revoke', 'revoke']);
    expect(executor.stats.logouts).toBe(1);
  });
});

describe('Executor: attackers', () => {
  it("steal then thief_refresh: the thief presents the victim's refresh token and calls with what it got", async () => {
    const { auth, api, executor, attackEvents } = setup([user('kim')]);
    await executor.run([
      call(0, 'kim'),
      { at: MIN, subject: 'kim', kind: 'steal', device: 'kim-laptop', net: HOME, attack: 'A1', fresh: false },
      {
        at: 2 * MIN,
        subject: 'kim',
        kind: 'thief_refresh',
        attack: 'A1',
        net: THIEF,
        device: 'A1-thief',
        userAgent: 'python-requests/2.32.3',
      },
      {
        at: 2.5 * MIN,
        subject: 'kim',
        kind: 'thief_call',
        attack: 'A1',
        net: THIEF,
        device: 'A1-thief',
        userAgent: 'python-requests/2.32.3',
        source: 'orders-api',
      },
      // the victim's own next refresh: its token was rotated by the thief
      { at: 3 * MIN, subject: 'kim', kind: 'refresh', device: 'kim-laptop', net: HOME },
    ]);
    const thief = { ip: THIEF.ip, deviceId: 'A1-thief', userAgent: 'python-requests/2.32.3' };
    expect(auth.log.map((c) => [c.op, 'token' in c ? c.token : '', c.caller.ip])).toStrictEqual([
      ['login', '', HOME.ip],
      ['refresh', 'rt-1', THIEF.ip], // the stolen one (steal without fresh: no refresh of the victim's)
      ['refresh', 'rt-1', HOME.ip], // refused: already rotated…
      ['login', '', HOME.ip], // …so the victim logs in again
    ]);
    expect(auth.log[1]!.caller).toStrictEqual(thief);
    const thiefCall = api.calls[1]!;
    expect(thiefCall).toMatchObject({ source: 'orders-api', caller: thief, result: { ok: true } });
    expect(claimsOf(thiefCall.token)).toMatchObject({ sub: 'kim', jti: 'jti-2' });
    expect(attackEvents.map((e) => [e.attack, e.step.kind, e.outcome])).toStrictEqual([
      ['A1', 'steal', 'tokens copied'],
      ['A1', 'thief_refresh', 'refresh 200'],
      ['A1', 'thief_call', 'call accepted'],
    ]);
    expect(executor.stats.attackSteps).toBe(3);
  });

  it("a fresh steal makes the victim's device refresh first and takes the new tokens; nothing stolen, nothing sent", async () => {
    const { auth, api, executor, attackEvents } = setup([user('lea'), user('max')]);
    await executor.run([
      call(0, 'lea'),
      { at: MIN, subject: 'lea', kind: 'steal', device: 'lea-laptop', net: HOME, attack: 'A2', fresh: true },
      {
        at: 2 * MIN,
        subject: 'lea',
        kind: 'thief_call',
        attack: 'A2',
        net: THIEF,
        device: '',
        userAgent: 'x',
        source: 'orders-api',
      },
      {
        at: 2 * MIN,
        subject: 'max',
        kind: 'thief_call',
        attack: 'A9',
        net: THIEF,
        device: '',
        userAgent: 'x',
        source: 'orders-api',
      },
    ]);
    expect(auth.log.map((c) => [c.op, c.caller.ip])).toStrictEqual([
      ['login', HOME.ip],
      ['refresh', HOME.ip],
    ]);
    expect(api.calls).toHaveLength(2);
    expect(api.calls[1]!.caller).toStrictEqual({ ip: THIEF.ip, deviceId: '', userAgent: 'x' });
    expect(claimsOf(api.calls[1]!.token)['jti']).toBe('jti-2'); // the token of the forced refresh
    const outcomes = (id: string) => attackEvents.filter((e) => e.attack === id).map((e) => e.outcome);
    expect(outcomes('A2')).toStrictEqual(['tokens copied', 'call accepted']);
    expect(outcomes('A9')).toStrictEqual(['nothing stolen']);
  });

  it('alg_none forgeries: unsigned tokens with header alg none claiming the victim', async () => {
    const { api, executor, attackEvents } = setup([user('ned')]);
    await executor.run([
      {
        at: MIN,
        subject: 'ned',
        kind: 'forge',
        attack: 'A3',
        net: THIEF,
        forgery: 'alg_none',
        count: 3,
        userAgent: 'python-requests/2.32.3',
        source: 'api-gateway',
      },
    ]);
    expect(api.calls).toHaveLength(3);
    for (const c of api.calls) {
      const [header, payload, signature] = c.token.split('.');
      expect(decode(header!)).toStrictEqual({ alg: 'none', typ: 'at+jwt' });
      expect(decode(payload!)).toMatchObject({ sub: 'ned', exp: Math.floor((START + MIN) / 1000) + 900 });
      expect(signature).toBe('');
      expect(c.caller).toStrictEqual({ ip: THIEF.ip, deviceId: '', userAgent: 'python-requests/2.32.3' });
    }
    expect(new Set(api.calls.map((c) => claimsOf(c.token)['jti'])).size).toBe(3);
    expect(executor.stats).toMatchObject({ forgeries: 3, calls: 3, rejected: { bad_signature: 3 } });
    expect(attackEvents[0]!.outcome).toBe('3 forged (alg_none): bad_signature 3');
  });

  it("bad_signature forgeries: a real token's header and signature around a rewritten payload", async () => {
    const { api, executor } = setup([user('olga')]);
    await executor.run([
      call(0, 'olga'),
      {
        at: MIN,
        subject: 'pia',
        kind: 'forge',
        attack: 'A4',
        net: THIEF,
        forgery: 'bad_signature',
        count: 2,
        userAgent: 'python-requests/2.32.3',
        source: 'api-gateway',
      },
    ]);
    const [realHeader, realPayload, realSignature] = api.calls[0]!.token.split('.');
    const forged = api.calls.slice(1);
    expect(forged).toHaveLength(2);
    for (const c of forged) {
      const [header, payload, signature] = c.token.split('.');
      expect(header).toBe(realHeader);
      expect(signature).toBe(realSignature);
      expect(payload).not.toBe(realPayload);
      expect(decode(payload!)).toStrictEqual({ ...decode(realPayload!), sub: 'pia', scope: 'admin' });
      expect(c.result).toStrictEqual({ ok: false, reason: 'bad_signature' });
    }
  });
});

describe('Executor: the simulated clock', () => {
  it('never runs more than maxSkewMs ahead of a step under way, and never behind it', async () => {
    const rnd = new Random('skew');
    const users = Array.from({ length: 30 }, (_, i) => user(`u${i}`, [{ tabs: 1 + (i % 3) }]));
    // 600 calls a few hundred ms apart, each from its own address (to tell whose request a port call is)
    const steps: Step[] = [];
    let at = 0;
    for (let i = 0; i < 600; i++) {
      at += rnd.int(0, 400);
      steps.push(call(at, `u${rnd.int(0, 29)}`, undefined, net(`10.0.${i >> 8}.${i & 255}`)));
    }
    for (const s of steps) if (s.kind === 'call') s.device = `${s.subject}-laptop`;
    const stepAt = new Map(steps.map((s) => [s.net.ip, s.at]));
    const delays = new Random('delays');
    const maxSkewMs = 1000;
    const { clock, auth, api, executor } = setup(users, {
      maxSkewMs,
      concurrency: 12,
      delay: () => new Promise((r) => setTimeout(r, delays.int(0, 3))),
    });
    await executor.run(steps);
    expect(executor.stats).toMatchObject({ steps: 600, errors: 0 });
    const seen = [
      ...auth.log.map((c) => ({ ip: c.caller.ip, nowMs: c.nowMs })),
      ...api.calls.map((c) => ({ ip: c.caller.ip, nowMs: c.nowMs })),
    ];
    expect(seen.length).toBeGreaterThan(600);
    const skews = seen.map(({ ip, nowMs }) => nowMs - (START + stepAt.get(ip)!));
    expect(Math.min(...skews)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...skews)).toBeLessThanOrEqual(maxSkewMs);
    // it did run ahead of some (steps overlap), so the bound is what held it
    expect(Math.max(...skews)).toBeGreaterThan(0);
    expect(clock.elapsed()).toBe(at);
  });

  it("steps of one user run one at a time, in order; other users' run concurrently", async () => {
    const users = [user('q'), user('r')];
    let running = 0;
    let overlap = 0;
    const order: string[] = [];
    const { executor, api } = setup(users, {
      delay: async () => {
        running++;
        overlap = Math.max(overlap, running);
        await new Promise((r) => setTimeout(r, 2));
        running--;
      },
    });
    const steps = [0, 1, 2, 3].flatMap((i) => [
      call(i * 10, 'q', 'q-laptop', net(`10.1.0.${i}`)),
      call(i * 10, 'r', 'r-laptop', net(`10.2.0.${i}`)),
    ]);
    await executor.run(steps);
    for (const c of api.calls) order.push(c.caller.ip);
    expect(order.filter((ip) => ip.startsWith('10.1.'))).toStrictEqual([
      '10.1.0.0',
      '10.1.0.1',
      '10.1.0.2',
      '10.1.0.3',
    ]);
    expect(order.filter((ip) => ip.startsWith('10.2.'))).toStrictEqual([
      '10.2.0.0',
      '10.2.0.1',
      '10.2.0.2',
      '10.2.0.3',
    ]);
    expect(overlap).toBe(2);
  });

  it('a failing port is counted as an error with what failed, and the run goes on', async () => {
    const { auth, executor } = setup([user('sam'), user('tia')]);
    auth.login = async () => ({ status: 503, body: { error: 'temporarily_unavailable' } });
    await executor.run([call(0, 'sam'), call(0, 'tia')]);
    expect(executor.stats.errors).toBe(2);
    expect(executor.stats.lastError).toMatch(/call of (sam|tia): login: the auth server answered 503/);
    expect(executor.stats.steps).toBe(2);
  });
});
