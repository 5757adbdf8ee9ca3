/**
 * A small world for response tests: the reference auth server and tokenwatch (Kafka or
 * single-process mode) wired to each other, a webhook receiver, and the moves of a user and of the
 * attacker who stole their refresh token.
 */
import { expect } from 'vitest';
import { freePort } from '../../tools/local-stack/process.ts';
import {
  API_KEY,
  type RunningService,
  type ServiceSetup,
  serviceSetup,
  startService,
  TENANT,
} from './harness.ts';
import {
  type RunningAuthServer,
  startAuthServer,
  startWebhookReceiver,
  type WebhookReceiver,
} from './peers.ts';

export const BERLIN = '85.214.132.117';
export const SAO_PAULO = '200.147.67.142';
export const WEBHOOK_SECRET = 'whsec-0123456789abcdef';

export interface World {
  auth: RunningAuthServer;
  tw: RunningService;
  receiver: WebhookReceiver;
  database: string;
  /** Kafka mode only: the events topic and the revocation notices topic */
  topic: string;
  revocationsTopic: string;
  env: Record<string, string>;
}

/** Auth server and tokenwatch wired to each other (tokenwatch's port is chosen first). */
export async function startWorld(opts: {
  kafka: boolean;
  extra?: Record<string, string>;
  /** more auth-server environment, given tokenwatch's set-up (e.g. report through its Kafka topic) */
  authEnv?: (setup: ServiceSetup) => Record<string, string>;
}): Promise<World> {
  const port = String(await freePort());
  const receiver = await startWebhookReceiver();
  const setup = serviceSetup({ kafka: opts.kafka });
  const auth = await startAuthServer({
    AUTH_TOKENWATCH_URL: `http://127.0.0.1:${port}`,
    AUTH_TOKENWATCH_API_KEY: API_KEY,
    AUTH_TENANT: TENANT,
    AUTH_CLIENTS: 'tokenwatch:tw-client-secret:revoke',
    ...opts.authEnv?.(setup),
  });
  const revocationsTopic = `${setup.topic}.revocations`;
  const env = {
    ...setup.env,
    TOKENWATCH_PORT: port,
    TOKENWATCH_AUTH_REVOKE_URL: `${auth.url}/v1/revocations`,
    TOKENWATCH_AUTH_TOKEN_URL: `${auth.url}/oauth/token`,
    TOKENWATCH_AUTH_CLIENT_ID: 'tokenwatch',
    TOKENWATCH_AUTH_CLIENT_SECRET: 'tw-client-secret',
    TOKENWATCH_AUTH_RETRY_MAX_MS: '2000',
    TOKENWATCH_AUTH_BREAKER_COOLDOWN_MS: '1000',
    ...(opts.kafka ? { TOKENWATCH_KAFKA_REVOCATIONS_TOPIC: revocationsTopic } : {}),
    TOKENWATCH_WEBHOOK_URL: receiver.url,
    TOKENWATCH_WEBHOOK_SECRET: WEBHOOK_SECRET,
    TOKENWATCH_WEBHOOK_GROUP_WAIT_MS: '1000',
    ...opts.extra,
  };
  const tw = await startService(env);
  return { auth, tw, receiver, database: setup.database, topic: setup.topic, revocationsTopic, env };
}

export async function stopWorld(w: World | undefined) {
  await w?.tw.stop();
  await w?.auth.stop();
  await w?.receiver.close();
}

/** A user's session at the reference auth server: login, then refreshes. */
export async function login(w: World, user: string, ip: string, device: string) {
  const res = await w.auth.token({ grant_type: 'password', username: user, password: user }, ip, device);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { access_token: string; refresh_token: string };
}

export const refresh = (w: World, token: string, ip: string, device: string) =>
  w.auth.token({ grant_type: 'refresh_token', refresh_token: token }, ip, device);

/**
 * A user who logs in and refreshes in Berlin, then the attacker's replay from São Paulo: its
 * answer, with the victim's access token of that family and when the replay was sent.
 * `beforeReplay` runs with the victim's token while it is still good.
 */
export async function stealFrom(
  w: World,
  user: string,
  beforeReplay?: (victimAccessToken: string) => Promise<void>,
) {
  const first = await login(w, user, BERLIN, 'laptop');
  const rotated = await refresh(w, first.refresh_token, BERLIN, 'laptop');
  expect(rotated.status).toBe(200);
  const victimAccessToken = rotated.body['access_token'] as string;
  await beforeReplay?.(victimAccessToken);
  // The rotation must be in tokenwatch's state before the replay.
  await new Promise((r) => setTimeout(r, 500));
  const replayedAt = Date.now();
  const replay = await refresh(w, first.refresh_token, SAO_PAULO, 'attacker-phone');
  return { ...replay, victimAccessToken, replayedAt };
}
