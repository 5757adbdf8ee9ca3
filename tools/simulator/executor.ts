/**
 * Plays a plan: each step becomes requests to the auth server and the APIs, the way real clients
 * behave. A device logs in when it has no session; an app refreshes shortly before its access token
 * expires, a browser only on a 401 `expired` (every open tab at once) and then retries the call; a
 * flaky phone loses a refresh response and presents the same refresh token again; a refused
 * refresh means logging in again. A DPoP-bound device logs in with its own key and proves it on
 * every call. Attackers use what they stole, and forge what they cannot.
 *
 * Steps of one user run one at a time, in order; different users run concurrently (bounded).
 */
import { randomUUID } from 'node:crypto';
import type { SimClock } from './clock.ts';
import { createDpopKey, type DpopKey, SIM_API_METHOD, SIM_API_URL } from './dpop-client.ts';
import type { Device, User } from './population.ts';
import type { ApiPort, AuthPort, Caller, TokenResponse } from './ports.ts';
import { Random } from './random.ts';
import type { Step } from './steps.ts';

interface Session {
  access: string;
  accessJti: string;
  accessExpMs: number;
  refresh: string;
}

interface Loot {
  access: string;
  refresh: string;
}

export interface ExecutorStats {
  steps: number;
  logins: number;
  refreshes: number;
  refreshesRefused: number;
  calls: number;
  callsAccepted: number;
  /** rejected calls by reason */
  rejected: Record<string, number>;
  logouts: number;
  attackSteps: number;
  forgeries: number;
  /** requests that failed (network, 5xx): a broken run, not traffic */
  errors: number;
  lastError: string;
}

export interface AttackEvent {
  attack: string;
  step: Step;
  /** what happened: e.g. `refresh 200`, `call rejected: revoked` */
  outcome: string;
  wallMs: number;
}

export interface ExecutorOptions {
  users: User[];
  auth: AuthPort;
  api: ApiPort;
  clock: SimClock;
  /** steps under way at once (default 32) */
  concurrency?: number;
  /** simulated clock: how far (ms) it may run ahead of the oldest step under way (default 2,000) */
  maxSkewMs?: number;
  seed: string;
  /** every attack step as it is played (the demo prints them) */
  onAttackStep?: (e: AttackEvent) => void;
}

/** refresh this long before the access token expires (apps) */
const PROACTIVE_MARGIN_MS = 60_000;
const LOST_RESPONSE_CHANCE = 0.25;

const b64json = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** The payload of a JWT, unverified (the client's own token: it reads jti and exp). */
function payloadOf(token: string): Record<string, unknown> {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch {
    return {};
  }
}

export class Executor {
  readonly stats: ExecutorStats = {
    steps: 0,
    logins: 0,
    refreshes: 0,
    refreshesRefused: 0,
    calls: 0,
    callsAccepted: 0,
    rejected: {},
    logouts: 0,
    attackSteps: 0,
    forgeries: 0,
    errors: 0,
    lastError: '',
  };
  readonly #o: ExecutorOptions;
  readonly #devices = new Map<string, Device>();
  readonly #sessions = new Map<string, Session>();
  readonly #loot = new Map<string, Loot>();
  readonly #rnd = new Map<string, Random>();
  /** the DPoP keys of bound devices, made at their first login */
  readonly #keys = new Map<string, Promise<DpopKey>>();
  /** a real token whose payload forgers rewrite (keeping its header and signature) */
  #template = '';
  #stopped = false;

  constructor(o: ExecutorOptions) {
    this.#o = o;
    for (const user of o.users) for (const d of user.devices) this.#devices.set(d.id, d);
  }

  stop(): void {
    this.#stopped = true;
  }

  /** Plays `steps` (sorted by time); resolves when all have run or stop() was called. */
  async run(steps: readonly Step[]): Promise<void> {
    const concurrency = this.#o.concurrency ?? 32;
    const maxSkewMs = this.#o.maxSkewMs ?? 2000;
    const chains = new Map<string, Promise<void>>();
    /** the simulated times of the steps under way */
    const inflight = new Set<{ at: number }>();
    let wake: (() => void) | undefined;
    const oldest = () => {
      let min = Number.POSITIVE_INFINITY;
      for (const s of inflight) if (s.at < min) min = s.at;
      return min;
    };
    for (const step of steps) {
      if (this.#stopped) break;
      // Simulated: the clock never runs more than maxSkewMs ahead of a step still under way (its
      // requests would be stamped late: two tabs' refreshes minutes apart instead of at once).
      while (inflight.size >= concurrency || (this.#o.clock.simulated && step.at - oldest() > maxSkewMs))
        await new Promise<void>((r) => (wake = r));
      await this.#o.clock.reach(step.at);
      const entry = { at: step.at };
      inflight.add(entry);
      const previous = chains.get(step.subject) ?? Promise.resolve();
      const next = previous
        .then(() => (this.#stopped ? undefined : this.#step(step)))
        .catch((err: Error) => {
          this.stats.errors++;
          this.stats.lastError = `${step.kind} of ${step.subject}: ${err.message}`;
        })
        .finally(() => {
          inflight.delete(entry);
          wake?.();
          wake = undefined;
        });
      chains.set(step.subject, next);
    }
    await Promise.all(chains.values());
  }

  #random(subject: string): Random {
    let r = this.#rnd.get(subject);
    if (r === undefined) {
      r = new Random(`${this.#o.seed}/executor/${subject}`);
      this.#rnd.set(subject, r);
    }
    return r;
  }

  async #step(step: Step): Promise<void> {
    this.stats.steps++;
    switch (step.kind) {
      case 'call': {
        const device = this.#device(step.device);
        await this.#call(
          step.subject,
          device,
          { ip: step.net.ip, deviceId: device.id, userAgent: device.userAgent },
          step.source,
        );
        return;
      }
      case 'refresh': {
        const device = this.#device(step.device);
        const caller = { ip: step.net.ip, deviceId: device.id, userAgent: device.userAgent };
        if (this.#sessions.has(device.id)) await this.#refresh(step.subject, device, caller);
        else await this.#login(step.subject, device, caller);
        return;
      }
      case 'logout':
        return this.#logout(step);
      case 'steal': {
        const device = this.#device(step.device);
        const caller = { ip: step.net.ip, deviceId: device.id, userAgent: device.userAgent };
        if (!this.#sessions.has(device.id)) await this.#login(step.subject, device, caller);
        else if (step.fresh) await this.#refresh(step.subject, device, caller);
        const s = this.#sessions.get(device.id);
        if (s !== undefined) this.#loot.set(step.attack, { access: s.access, refresh: s.refresh });
        this.#attackStep(step, s === undefined ? 'nothing to steal' : 'tokens copied');
        return;
      }
      case 'thief_refresh': {
        const loot = this.#loot.get(step.attack);
        if (loot === undefined) return this.#attackStep(step, 'nothing stolen');
        const res = await this.#o.auth.refresh(loot.refresh, {
          ip: step.net.ip,
          deviceId: step.device,
          userAgent: step.userAgent,
        });
        this.#checkServer(res, 'thief refresh');
        if (res.status === 200) {
          loot.access = String(res.body['access_token']);
          loot.refresh = String(res.body['refresh_token']);
        }
        this.#attackStep(
          step,
          `refresh ${res.status}${res.status === 200 ? '' : ` ${String(res.body['error'] ?? '')}`}`,
        );
        return;
      }
      case 'thief_call': {
        const loot = this.#loot.get(step.attack);
        if (loot === undefined) return this.#attackStep(step, 'nothing stolen');
        this.stats.calls++;
        const r = await this.#o.api.call(step.source, loot.access, {
          ip: step.net.ip,
          deviceId: step.device,
          userAgent: step.userAgent,
        });
        this.#count(r);
        this.#attackStep(step, r.ok ? 'call accepted' : `call rejected: ${r.reason}`);
        return;
      }
      case 'forge': {
        const caller = { ip: step.net.ip, deviceId: '', userAgent: step.userAgent };
        const rejected: Record<string, number> = {};
        for (let i = 0; i < step.count; i++) {
          this.stats.forgeries++;
          this.stats.calls++;
          const r = await this.#o.api.call(step.source, this.#forge(step.subject, step.forgery), caller);
          this.#count(r);
          const key = r.ok ? 'ACCEPTED' : r.reason;
          rejected[key] = (rejected[key] ?? 0) + 1;
        }
        this.#attackStep(
          step,
          `${step.count} forged (${step.forgery}): ${Object.entries(rejected)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        );
        return;
      }
    }
  }

  #device(id: string): Device {
    const d = this.#devices.get(id);
    if (d === undefined) throw new Error(`no device ${id} in the population`);
    return d;
  }

  #attackStep(step: Step & { attack: string }, outcome: string): void {
    this.stats.attackSteps++;
    this.#o.onAttackStep?.({ attack: step.attack, step, outcome, wallMs: Date.now() });
  }

  /** A 5xx or a malformed answer breaks the run's meaning: counted as an error, loudly. */
  #checkServer(res: TokenResponse, what: string): void {
    if (res.status >= 500)
      throw new Error(
        `${what}: the auth server answered ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`,
      );
  }

  #count(r: { ok: true } | { ok: false; reason: string }): void {
    if (r.ok) this.stats.callsAccepted++;
    else this.stats.rejected[r.reason] = (this.stats.rejected[r.reason] ?? 0) + 1;
  }

  #store(deviceId: string, res: TokenResponse): Session {
    const access = String(res.body['access_token']);
    const p = payloadOf(access);
    const session: Session = {
      access,
      accessJti: String(p['jti'] ?? ''),
      accessExpMs: Number(p['exp'] ?? 0) * 1000,
      refresh: String(res.body['refresh_token']),
    };
    this.#sessions.set(deviceId, session);
    this.#template = access;
    return session;
  }

  async #login(subject: string, device: Device, caller: Caller): Promise<Session> {
    this.stats.logins++;
    const res = await this.#o.auth.login(subject, caller, (await this.#keyOf(device))?.jkt);
    this.#checkServer(res, 'login');
    if (res.status !== 200) throw new Error(`login of ${subject}: ${res.status} ${JSON.stringify(res.body)}`);
    return this.#store(device.id, res);
  }

  /** Every open tab refreshes at once; a flaky phone loses the answer and presents the same token again. */
  async #refresh(subject: string, device: Device, caller: Caller): Promise<Session> {
    const session = this.#sessions.get(device.id);
    if (session === undefined) return this.#login(subject, device, caller);
    const rnd = this.#random(subject);
    const present = () => {
      this.stats.refreshes++;
      return this.#o.auth.refresh(session.refresh, caller);
    };
    let answers: TokenResponse[];
    if (device.flaky && rnd.chance(LOST_RESPONSE_CHANCE)) {
      await present(); // the answer never reached the phone
      answers = [await present()];
    } else answers = await Promise.all(Array.from({ length: device.tabs }, present));
    for (const a of answers) this.#checkServer(a, 'refresh');
    const ok = answers.find((a) => a.status === 200);
    if (ok !== undefined) return this.#store(device.id, ok);
    this.stats.refreshesRefused++;
    this.#sessions.delete(device.id);
    return this.#login(subject, device, caller);
  }

  /** A bound device's DPoP key (made once); undefined for bearer-token devices. */
  #keyOf(device: Device): Promise<DpopKey> | undefined {
    if (device.dpop !== true) return undefined;
    let key = this.#keys.get(device.id);
    if (key === undefined) {
      key = createDpopKey();
      this.#keys.set(device.id, key);
    }
    return key;
  }

  /** The caller of one API call with this token: with a fresh DPoP proof when the device is bound. */
  async #proving(device: Device, caller: Caller, access: string): Promise<Caller> {
    const key = await this.#keyOf(device);
    if (key === undefined) return caller;
    const proof = await key.proof(access, this.#o.clock.now());
    return { ...caller, dpop: { proof, method: SIM_API_METHOD, url: SIM_API_URL } };
  }

  async #call(
    subject: string,
    device: Device,
    caller: Caller,
    source: Extract<Step, { kind: 'call' }>['source'],
  ) {
    let session = this.#sessions.get(device.id) ?? (await this.#login(subject, device, caller));
    if (device.proactive && session.accessExpMs - this.#o.clock.now() < PROACTIVE_MARGIN_MS)
      session = await this.#refresh(subject, device, caller);
    this.stats.calls++;
    let r = await this.#o.api.call(
      source,
      session.access,
      await this.#proving(device, caller, session.access),
    );
    this.#count(r);
    if (!r.ok && (r.reason === 'expired' || r.reason === 'revoked')) {
      session = await this.#refresh(subject, device, caller);
      this.stats.calls++;
      r = await this.#o.api.call(source, session.access, await this.#proving(device, caller, session.access));
      this.#count(r);
    }
  }

  async #logout(step: Extract<Step, { kind: 'logout' }>): Promise<void> {
    const device = this.#device(step.device);
    const session = this.#sessions.get(device.id);
    if (session === undefined) return;
    const caller = { ip: step.net.ip, deviceId: device.id, userAgent: device.userAgent };
    this.stats.logouts++;
    for (const [token, hint] of [
      [session.access, 'access_token'],
      [session.refresh, 'refresh_token'],
    ] as const) {
      const status = await this.#o.auth.revoke(token, hint, caller);
      if (status !== 200) throw new Error(`logout of ${step.subject}: /oauth/revoke answered ${status}`);
    }
    this.#o.api.revoked(session.accessJti, step.subject, session.accessExpMs);
    this.#sessions.delete(device.id);
    if (step.staleTab) {
      // a tab left open presents the old token once more, from the same place
      this.stats.calls++;
      const tab = await this.#proving(device, caller, session.access);
      this.#count(await this.#o.api.call('api-gateway', session.access, tab));
    }
  }

  /** A forged token claiming `subject`: unsigned, or a real token's payload rewritten under its signature. */
  #forge(subject: string, forgery: 'alg_none' | 'bad_signature'): string {
    const nowS = Math.floor(this.#o.clock.now() / 1000);
    if (forgery === 'alg_none' || this.#template === '') {
      const claims = { sub: subject, jti: randomUUID(), iat: nowS, exp: nowS + 900, scope: 'admin' };
      return `${b64json({ alg: 'none', typ: 'at+jwt' })}.${b64json(claims)}.`;
    }
    const [header, payload, signature] = this.#template.split('.');
    const claims = {
      ...JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')),
      sub: subject,
      scope: 'admin',
    };
    return `${header}.${b64json(claims)}.${signature}`;
  }
}
