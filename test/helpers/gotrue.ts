import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config.js';
import { createGotrueIdentity } from '../../src/identity/gotrue/identity.js';
import { createLogger } from '../../src/log.js';
import { signStandardWebhook } from '../../src/auth/standard-webhooks.js';
import { captureLogs, startTestApp, type TestApp } from './app.js';

/** The upstream idgraph's token issuer (its PUBLIC_URL is the default one). */
export const UPSTREAM_ISSUER = 'http://localhost:4000/auth/v1';

/** The env that puts an idgraph in front of `upstream` (another idgraph's GoTrue-compatible /auth/v1). */
export function gotrueEnv(upstream: { url: string; apiKeys(): { anon: string; serviceRole: string } }, extra: Record<string, string> = {}) {
  const keys = upstream.apiKeys();
  return {
    GOTRUE_URL: `${upstream.url}/auth/v1`,
    GOTRUE_ANON_KEY: keys.anon,
    GOTRUE_SERVICE_ROLE_KEY: keys.serviceRole,
    GOTRUE_JWT_ISSUER: UPSTREAM_ISSUER,
    ...extra,
  };
}

/** A GoTrue client (transport, typed client, port) built from env as the app builds it; its logs are kept. */
export function gotrueIdentityFor(
  upstream: { url: string; apiKeys(): { anon: string; serviceRole: string } },
  extra: Record<string, string> = {},
  deps: { clock?: () => number; random?: () => number } = {},
) {
  const { logs, stream } = captureLogs();
  const config = loadConfig(gotrueEnv(upstream, extra)).gotrue!;
  const identity = createGotrueIdentity({ config, log: createLogger({ level: 'debug', destination: stream }), clock: deps.clock ?? Date.now, random: deps.random });
  return { ...identity, logs };
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A tiny HTTP server on port 0 that answers with `handler` and keeps every request it saw. */
export async function startStubServer(handler: (req: RecordedRequest, res: http.ServerResponse) => void) {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(recorded);
      handler(recorded, res);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    /** Shaped like a TestApp for gotrueEnv: the stub stands at the GoTrue root, keys are fixed. */
    asUpstream: { url, apiKeys: () => ({ anon: 'anon-key-0123456789abcdef', serviceRole: 'service-key-0123456789abcdef' }) },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
};

export type { TestApp };

/** A Standard Webhooks secret as GoTrue takes it (v1,whsec_<base64>). */
export const hookSecret = () => `v1,whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')}`;

/**
 * GoTrue with idgraph in front, wired as in production: the upstream (a second
 * idgraph standing in for GoTrue) calls idgraph's custom access token hook over
 * HTTP, signed, whenever it mints a token, and puts the claims it answers into
 * the token, as GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_URI does.
 */
export async function startGotruePair(env: { upstream?: Record<string, string>; proxy?: Record<string, string> } = {}) {
  const secret = hookSecret();
  let hookUrl: string | null = null;
  const upstream = await startTestApp({
    env: env.upstream,
    claimsExtension: async ({ userId, sessionId }) => {
      if (!hookUrl) return {};
      const body = JSON.stringify({
        user_id: userId,
        claims: { sub: userId, session_id: sessionId, aud: 'authenticated', role: 'authenticated', aal: 'aal1', amr: [], is_anonymous: false },
        authentication_method: 'password',
      });
      const response = await fetch(hookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signStandardWebhook({ secret, id: `msg_${sessionId}`, body, now: Date.now() }) },
        body,
      });
      if (!response.ok) throw new Error(`hook answered ${response.status}`);
      const { claims } = (await response.json()) as { claims: Record<string, unknown> };
      const added = ['tenant_id', 'tenant_role', 'mfa_at'].filter((k) => k in claims);
      return Object.fromEntries(added.map((k) => [k, claims[k]]));
    },
  });
  const proxy = await startTestApp({ env: gotrueEnv(upstream, { GOTRUE_HOOK_SECRET: secret, ...env.proxy }) });
  hookUrl = `${proxy.url}/hooks/custom-access-token`;
  return {
    upstream,
    proxy,
    secret,
    hookUrl,
    async close() {
      await proxy.close();
      await upstream.close();
    },
  };
}
