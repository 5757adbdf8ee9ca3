/**
 * What the simulator does, one step at a time, at a simulated time. The plan (benign days and
 * attacks) is a list of steps; the executor turns each into requests to the auth server and the
 * verifiers. Steps name devices and attacks; tokens are the executor's business (a step says
 * "the phone calls the API from the airport", the executor knows which token the phone holds).
 */
import type { Network } from './population.ts';

/** The services that verify tokens (each an SDK verifier reporting as this source). */
export const SOURCES = ['api-gateway', 'mobile-bff', 'orders-api'] as const;
export type Source = (typeof SOURCES)[number];

export type AttackKind =
  | 'refresh_replay'
  | 'access_clone'
  | 'xss_parallel'
  | 'alg_none'
  | 'bad_signature_flood'
  | 'revoked_token';

interface StepBase {
  /** simulated time, ms since the simulation's start */
  at: number;
  /** whose step (steps of one user run in order, one at a time) */
  subject: string;
}

export type Step = StepBase &
  (
    | {
        /** a device calls an API with its access token (logging in, refreshing and retrying as a client does) */
        kind: 'call';
        device: string;
        net: Network;
        source: Source;
      }
    | {
        /** a device refreshes now (an app restart, a forced refresh) */
        kind: 'refresh';
        device: string;
        net: Network;
      }
    | {
        /** a device logs out (RFC 7009 revocation of its tokens); a stale tab may present the old token once after */
        kind: 'logout';
        device: string;
        net: Network;
        staleTab: boolean;
      }
    | {
        /** an attacker copies a device's tokens (after making it refresh when `fresh`) */
        kind: 'steal';
        device: string;
        net: Network;
        attack: string;
        fresh: boolean;
      }
    | {
        /** the attacker presents the stolen refresh token */
        kind: 'thief_refresh';
        attack: string;
        net: Network;
        device: string;
        userAgent: string;
      }
    | {
        /** the attacker calls an API with the stolen (or the thief-refreshed) access token */
        kind: 'thief_call';
        attack: string;
        net: Network;
        /** '' when the attacker sends none */
        device: string;
        userAgent: string;
        source: Source;
      }
    | {
        /** the attacker presents forged tokens */
        kind: 'forge';
        attack: string;
        net: Network;
        forgery: 'alg_none' | 'bad_signature';
        count: number;
        userAgent: string;
        source: Source;
      }
  );

/** Ground truth: one attack, what it did and which detectors should find it. */
export interface AttackLabel {
  id: string;
  kind: AttackKind;
  tenant: string;
  /** the victim */
  subject: string;
  /** simulated ms since the start: the first malicious request, and the last */
  startAt: number;
  endAt: number;
  /** the attacker's addresses */
  ips: string[];
  /** the detectors that should report it (recall counts these); any detector reporting it is right */
  expected: string[];
  description: string;
}

export const byTime = (a: Step, b: Step) => a.at - b.at;
