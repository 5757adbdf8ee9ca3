/**
 * A real node-oidc-provider OP on loopback (for the integration tests, `npm run demo -- --auth oidc-provider`
 * and the bench), and an example of wiring tokenwatch into one: one confidential client with
 * authorization_code + refresh_token and rotateRefreshToken, a login interaction that signs in the
 * `login_hint` user without a form (the test drives the code flow over HTTP), tokenwatch's plugin
 * attached, and tokenwatch's revocation endpoint (`/tokenwatch/revocations`) on the provider's models.
 * Every revocation answered is logged with its time, for the replay → acknowledgement figure.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import Provider from 'oidc-provider';
import { createHttpReporter, type Reporter } from '../../sdk/src/index.ts';
import { type Attachment, attachTokenwatch, revocationHandler } from '../../sdk/src/oidc-provider.ts';

export const CLIENT = { id: 'app', secret: 'app-secret-0123456789abcdef', redirect: 'http://127.0.0.1/cb' };
export const REVOKE_PATH = '/tokenwatch/revocations';

export interface AnsweredRevocation {
  atMs: number;
  status: number;
  body: Record<string, unknown>;
}

export interface OidcHost {
  url: string;
  provider: Provider;
  attachment: Attachment;
  reporter: Reporter;
  revocations: AnsweredRevocation[];
  close(): Promise<void>;
}

export async function startOidcHost(o: {
  port: number;
  tokenwatchUrl: string;
  apiKey: string;
  tenant: string;
  revokeToken: string;
}): Promise<OidcHost> {
  const url = `http://127.0.0.1:${o.port}`;
  const provider = new Provider(url, {
    clients: [
      {
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        redirect_uris: [CLIENT.redirect],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    rotateRefreshToken: true,
    cookies: { keys: [randomBytes(16).toString('hex')] },
    ttl: {
      Grant: 3600,
      Session: 3600,
      Interaction: 600,
      AccessToken: 600,
      AuthorizationCode: 60,
      RefreshToken: 86_400,
      IdToken: 600,
    },
  });
  provider.proxy = true; // ctx.ip from X-Forwarded-For: the tests play clients on other networks
  const reporter = createHttpReporter({ url: o.tokenwatchUrl, apiKey: o.apiKey, lingerMs: 5 });
  const attachment = attachTokenwatch(provider, { reporter, tenant: o.tenant });
  const handler = revocationHandler(provider, { token: o.revokeToken, tenant: o.tenant });
  const revocations: AnsweredRevocation[] = [];
  const callback = provider.callback();

  const login = async (req: IncomingMessage, res: ServerResponse) => {
    const details = await provider.interactionDetails(req, res);
    const accountId = String(details.params['login_hint'] ?? 'anonymous');
    const grant = new provider.Grant({ accountId, clientId: String(details.params['client_id']) });
    grant.addOIDCScope('openid offline_access');
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId }, consent: { grantId } },
      {
        mergeWithLastSubmission: false,
      },
    );
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    if (path === REVOKE_PATH) {
      const end = res.end.bind(res);
      const chunks: string[] = [];
      res.end = ((chunk?: unknown) => {
        if (typeof chunk === 'string') chunks.push(chunk);
        revocations.push({
          atMs: Date.now(),
          status: res.statusCode,
          body: JSON.parse(chunks.join('') || '{}'),
        });
        return end(chunk as string);
      }) as typeof res.end;
      handler.node(req, res);
      return;
    }
    if (path.startsWith('/interaction/')) {
      login(req, res).catch((err: Error) => res.writeHead(500).end(err.message));
      return;
    }
    callback(req, res);
  });
  await new Promise<void>((resolve) => server.listen(o.port, '127.0.0.1', resolve));
  return {
    url,
    provider,
    attachment,
    reporter,
    revocations,
    close: async () => {
      attachment.detach();
      handler.close();
      await reporter.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The user's side of the code flow, over HTTP with a cookie jar: tokens for `username`. */
export async function codeFlowLogin(host: string, username: string, ip: string, userAgent: string) {
  const jar = new Map<string, string>();
  const send = async (url: string, init: RequestInit = {}) => {
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: {
        ...(init.headers as Record<string, string>),
        cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
        'x-forwarded-for': ip,
        'user-agent': userAgent,
      },
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      jar.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
    return res;
  };
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const auth = new URL('/auth', host);
  for (const [k, v] of Object.entries({
    client_id: CLIENT.id,
    response_type: 'code',
    scope: 'openid offline_access',
    prompt: 'consent',
    redirect_uri: CLIENT.redirect,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    login_hint: username,
    state: randomBytes(8).toString('hex'),
  }))
    auth.searchParams.set(k, v);
  let res = await send(auth.href);
  for (let hops = 0; hops < 6; hops++) {
    const location = res.headers.get('location');
    if (location === null) throw new Error(`code flow stopped at ${res.status}: ${await res.text()}`);
    if (location.startsWith(CLIENT.redirect)) {
      const code = new URL(location).searchParams.get('code');
      if (code === null) throw new Error(`no code: ${location}`);
      return tokenCall(
        host,
        { grant_type: 'authorization_code', code, redirect_uri: CLIENT.redirect, code_verifier: verifier },
        ip,
        userAgent,
      );
    }
    res = await send(new URL(location, host).href);
  }
  throw new Error('code flow: too many redirects');
}

export async function tokenCall(host: string, params: Record<string, string>, ip: string, userAgent: string) {
  const res = await fetch(`${host}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-forwarded-for': ip,
      'user-agent': userAgent,
    },
    body: new URLSearchParams({ ...params, client_id: CLIENT.id, client_secret: CLIENT.secret }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

export const refreshCall = (host: string, refreshToken: string, ip: string, userAgent: string) =>
  tokenCall(host, { grant_type: 'refresh_token', refresh_token: refreshToken }, ip, userAgent);
