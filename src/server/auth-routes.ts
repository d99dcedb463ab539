import type http from 'node:http';
import type { AuthConfig } from '../config.js';
import { ProviderError } from '../identity/errors.js';
import type { Body, IdentityProvider, LogoutScope } from '../identity/provider.js';
import type { AccessTokenResponse, RequestMeta } from '../identity/types.js';
import { redirectTarget } from '../identity/embedded/redirects.js';
import type { Logger } from '../log.js';
import type { RequestOrigin } from '../services/origins.js';
import type { AttemptSubject, AuthAction, AuthRateLimits } from '../services/auth-rate-limits.js';
import { canonicalUuid } from '../uuid.js';
import { type AuthAnswer, type AuthAnswerRecording, bearerOf } from './auth-answer.js';
import { sendProviderError } from './auth-errors.js';
import { readJsonObject } from './body.js';
import { requestOriginOf } from './origin-check.js';
import { sendJson, type RestRoute } from './rest.js';

export interface AuthRouteDeps extends AuthAnswerRecording {
  provider: IdentityProvider;
  auth: AuthConfig;
  /** The gateway's apikey check (anon or service-role key). */
  isApiKey: (value: string | null) => boolean;
  /** The realm's origin allowlist: throws realm_origin_mismatch or missing_origin for a browser page it refuses. */
  checkOrigin: (request: RequestOrigin) => Promise<void>;
  /** The same policy GraphQL applies to the same actions. */
  limits: Pick<AuthRateLimits, 'perIp' | 'perIdentifier'>;
  bodyLimitBytes: number;
  log: Logger;
  /** Null when ready; otherwise why the engine cannot answer yet (migrations, database). */
  notReadyReason: () => string | null;
}

interface Call {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  url: URL;
  params: string[];
  meta: RequestMeta;
  bearer: string | null;
  body: () => Promise<Body>;
  redirectTo: string | undefined;
}

type Handler = (call: Call) => Promise<unknown>;

interface Route {
  method: string;
  pattern: RegExp;
  /** Reachable without the apikey header: links opened from emails, public metadata. */
  open?: boolean;
  /** What a request costs (auth-rate-limits.ts): its action, counted per IP first, then who it is about. */
  limit?: { action: AuthAction | ((url: URL) => AuthAction); subject?: (call: Call) => Promise<AttemptSubject> };
  handle: Handler;
}

/** A body's email or phone as the engine's lookup reads them (any JSON value, as text). */
async function contactIn(call: Call): Promise<AttemptSubject> {
  const body = await call.body();
  return { email: body.email ? String(body.email) : null, phone: body.phone ? String(body.phone) : null };
}

/** The /factors/{id} path's id in its canonical spelling; GoTrue's 404 validation_failed when it is no UUID. */
function factorIdOf(call: Call): string {
  let raw: string;
  try {
    raw = decodeURIComponent(call.params[0] ?? '');
  } catch {
    raw = '';
  }
  const factorId = canonicalUuid(raw);
  if (!factorId) throw new ProviderError(404, 'validation_failed', 'factor_id must be an UUID');
  return factorId;
}

const tokenAction = (url: URL): AuthAction => {
  const grant = url.searchParams.get('grant_type');
  return grant === 'password' ? 'signIn' : grant === 'id_token' ? 'idToken' : 'refresh';
};

const NO_CONTENT = Symbol('no content');
const uuid = '([0-9a-fA-F-]{36})';

function fragmentFor(session: AccessTokenResponse, type: string): string {
  const params = new URLSearchParams({
    access_token: session.access_token,
    expires_at: String(session.expires_at),
    expires_in: String(session.expires_in),
    refresh_token: session.refresh_token,
    token_type: 'bearer',
    type,
  });
  return `${params.toString()}&sb=`;
}

export function authRoutes(deps: AuthRouteDeps): RestRoute[] {
  const { provider, auth, log } = deps;
  const scope = (value: string | null): LogoutScope => {
    const s = value ?? 'global';
    if (s !== 'global' && s !== 'local' && s !== 'others') throw new ProviderError(400, 'validation_failed', `Unsupported logout scope "${s}"`);
    return s;
  };
  const admin = async (call: Call) => provider.admin.authorize(call.bearer);
  /** The signed-in user's id (the token is verified), for limits keyed on the user. */
  const userIdOf = async (call: Call) => (await provider.getUser(call.bearer)).id;
  const factorAttempt = async (call: Call): Promise<AttemptSubject> => {
    const userId = await userIdOf(call);
    return { factorId: factorIdOf(call), userId };
  };

  const routes: Route[] = [
    { method: 'GET', pattern: /^\/health$/, open: true, handle: () => provider.health() },
    { method: 'GET', pattern: /^\/settings$/, handle: () => provider.settings() },
    {
      method: 'GET',
      pattern: /^\/\.well-known\/jwks\.json$/,
      open: true,
      handle: async (c) => {
        sendJson(c.res, 200, await provider.jwks(), { 'cache-control': 'public, max-age=600' });
        return NO_CONTENT;
      },
    },
    { method: 'GET', pattern: /^\/\.well-known\/openid-configuration$/, open: true, handle: () => provider.openidConfiguration() },
    { method: 'POST', pattern: /^\/signup$/, limit: { action: 'signUp', subject: contactIn }, handle: async (c) => provider.signUp(await c.body(), c.meta, c.redirectTo) },
    {
      method: 'POST',
      pattern: /^\/token$/,
      limit: { action: tokenAction, subject: contactIn },
      handle: async (c) => provider.token(c.url.searchParams.get('grant_type') ?? '', await c.body(), c.meta, c.bearer),
    },
    {
      method: 'POST',
      pattern: /^\/logout$/,
      handle: async (c) => {
        // The admin API signs a user out with the user's token and the service-role key (auth-js admin.signOut).
        const byAdmin = await provider.admin.authorize((c.req.headers.apikey as string | undefined) ?? null).then(() => true, () => false);
        await provider.logout(c.bearer, scope(c.url.searchParams.get('scope')), c.meta, byAdmin);
        return NO_CONTENT;
      },
    },
    { method: 'POST', pattern: /^\/(otp|magiclink)$/, limit: { action: 'sendOtp', subject: contactIn }, handle: async (c) => provider.sendOtp(await c.body(), c.meta, c.redirectTo) },
    { method: 'POST', pattern: /^\/recover$/, limit: { action: 'recover', subject: contactIn }, handle: async (c) => provider.recover(await c.body(), c.meta, c.redirectTo) },
    { method: 'POST', pattern: /^\/resend$/, limit: { action: 'resend', subject: contactIn }, handle: async (c) => provider.resend(await c.body(), c.meta, c.redirectTo) },
    { method: 'POST', pattern: /^\/verify$/, limit: { action: 'verifyOtp', subject: contactIn }, handle: async (c) => provider.verify(await c.body(), c.meta) },
    {
      method: 'GET',
      pattern: /^\/verify$/,
      open: true,
      limit: { action: 'verifyOtp' },
      handle: async (c) => {
        const type = c.url.searchParams.get('type') ?? '';
        // Already checked against the allow list; the Location is serialized from the parsed URL.
        const target = new URL(c.redirectTo ?? auth.siteUrl);
        try {
          const result = await provider.verifyLink(c.url.searchParams.get('token') ?? '', type, c.meta);
          if ('code' in result) target.searchParams.set('code', result.code);
          else target.hash = fragmentFor(result.session, type);
        } catch (error) {
          if (!(error instanceof ProviderError)) throw error;
          const params = new URLSearchParams({ error: 'access_denied', error_code: error.errorCode, error_description: error.message });
          target.hash = `${params.toString()}&sb=`;
        }
        c.res.writeHead(303, { location: target.href, 'cache-control': 'no-store' });
        c.res.end();
        return NO_CONTENT;
      },
    },
    { method: 'GET', pattern: /^\/user$/, handle: (c) => provider.getUser(c.bearer) },
    {
      method: 'PUT',
      pattern: /^\/user$/,
      // A nonce is a guess at the reauthentication code.
      limit: { action: 'updateUser', subject: async (c) => ((await c.body()).nonce ? { userId: await userIdOf(c) } : {}) },
      handle: async (c) => provider.updateUser(c.bearer, await c.body(), c.meta, c.redirectTo),
    },
    {
      method: 'GET',
      pattern: /^\/reauthenticate$/,
      limit: { action: 'reauthenticate', subject: async (c) => ({ userId: await userIdOf(c) }) },
      handle: (c) => provider.reauthenticate(c.bearer, c.meta),
    },
    { method: 'DELETE', pattern: new RegExp(`^/user/identities/${uuid}$`), handle: (c) => provider.unlinkIdentity(c.bearer, c.params[0]!) },
    { method: 'POST', pattern: /^\/factors$/, handle: async (c) => provider.enrollFactor(c.bearer, await c.body()) },
    {
      method: 'POST',
      pattern: /^\/factors\/([^/]+)\/challenge$/,
      limit: { action: 'challengeFactor', subject: factorAttempt },
      handle: async (c) => provider.challengeFactor(c.bearer, factorIdOf(c), await c.body(), c.meta),
    },
    {
      method: 'POST',
      pattern: /^\/factors\/([^/]+)\/verify$/,
      limit: { action: 'verifyFactor', subject: factorAttempt },
      handle: async (c) => provider.verifyFactor(c.bearer, factorIdOf(c), await c.body(), c.meta),
    },
    { method: 'DELETE', pattern: /^\/factors\/([^/]+)$/, handle: (c) => provider.unenrollFactor(c.bearer, factorIdOf(c), c.meta) },
    // Features the embedded engine does not offer answer as GoTrue does when they are off.
    ...['GET /authorize', 'GET /callback', 'POST /sso', 'GET /user/identities/authorize', 'GET /sso/saml/metadata', 'POST /sso/saml/acs'].map(
      (spec): Route => {
        const [method, path] = spec.split(' ') as [string, string];
        return {
          method,
          pattern: new RegExp(`^${path.replace(/\//g, '\\/')}$`),
          open: method === 'GET' && path !== '/user/identities/authorize',
          handle: async () => {
            throw new ProviderError(404, 'feature_disabled', `${path} is not available in embedded mode`);
          },
        };
      },
    ),
    {
      method: 'GET',
      pattern: /^\/admin\/users$/,
      handle: async (c) => {
        await admin(c);
        const page = Math.max(1, Number(c.url.searchParams.get('page') ?? 1) || 1);
        const perPage = Math.min(1000, Math.max(1, Number(c.url.searchParams.get('per_page') ?? 50) || 50));
        const { users, total, aud } = await provider.admin.listUsers(page, perPage);
        const last = Math.max(1, Math.ceil(total / perPage));
        const base = `${auth.publicUrl}/auth/v1/admin/users`;
        const links = [
          ...(page < last ? [`<${base}?page=${page + 1}&per_page=${perPage}>; rel="next"`] : []),
          `<${base}?page=${last}&per_page=${perPage}>; rel="last"`,
        ];
        sendJson(c.res, 200, { users, aud }, { 'x-total-count': String(total), link: links.join(', ') });
        return NO_CONTENT;
      },
    },
    { method: 'POST', pattern: /^\/admin\/users$/, handle: async (c) => (await admin(c), provider.admin.createUser(await c.body())) },
    { method: 'GET', pattern: new RegExp(`^/admin/users/${uuid}$`), handle: async (c) => (await admin(c), provider.admin.getUser(c.params[0]!)) },
    {
      method: 'PUT',
      pattern: new RegExp(`^/admin/users/${uuid}$`),
      handle: async (c) => (await admin(c), provider.admin.updateUser(c.params[0]!, await c.body())),
    },
    {
      method: 'DELETE',
      pattern: new RegExp(`^/admin/users/${uuid}$`),
      handle: async (c) => {
        await admin(c);
        return provider.admin.deleteUser(c.params[0]!, (await c.body()).should_soft_delete === true);
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/admin/users/${uuid}/factors$`),
      handle: async (c) => (await admin(c), provider.admin.listFactors(c.params[0]!)),
    },
    {
      method: 'DELETE',
      pattern: new RegExp(`^/admin/users/${uuid}/factors/${uuid}$`),
      handle: async (c) => (await admin(c), provider.admin.deleteFactor(c.params[0]!, c.params[1]!)),
    },
    {
      method: 'POST',
      pattern: /^\/admin\/generate_link$/,
      handle: async (c) => (await admin(c), provider.admin.generateLink(await c.body(), c.redirectTo)),
    },
    { method: 'POST', pattern: /^\/invite$/, handle: async (c) => (await admin(c), provider.admin.inviteUser(await c.body(), c.redirectTo)) },
  ];

  const cors = {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'GET, POST, PUT, DELETE, OPTIONS',
    'access-control-allow-headers': 'authorization, apikey, content-type, x-client-info, x-supabase-api-version, x-jwt-aud, x-request-id',
    'access-control-expose-headers': 'x-total-count, link, x-supabase-api-version, x-request-id',
    'access-control-max-age': '86400',
  };

  /** After the answer: what idgraph records about it never changes or delays it. */
  async function record(answer: AuthAnswer) {
    try {
      await deps.afterAnswer(answer);
    } catch (error) {
      log.error({ err: error, method: answer.method, path: answer.path }, 'recording an /auth/v1 answer failed');
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL, path: string) {
    for (const [k, v] of Object.entries(cors)) res.setHeader(k, v);
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      res.writeHead(204);
      res.end();
      return;
    }
    try {
      const notReady = deps.notReadyReason();
      if (notReady) throw new ProviderError(503, 'unexpected_failure', `idgraph is not ready: ${notReady}`, { retryAfterSeconds: 5 });
      const onPath = routes.filter((r) => r.pattern.test(path));
      const route = onPath.find((r) => r.method === method);
      if (!route) {
        if (onPath.length) throw new ProviderError(405, 'validation_failed', `Method ${method} is not allowed on ${path}`);
        throw new ProviderError(404, 'not_found', `No route for ${method} /auth/v1${path}`);
      }
      await deps.checkOrigin(requestOriginOf((name) => req.headers[name]));
      if (!route.open) {
        const apikey = (req.headers.apikey as string | undefined) ?? null;
        if (!apikey) throw new ProviderError(401, 'no_authorization', 'No API key found in request');
        if (!deps.isApiKey(apikey)) throw new ProviderError(401, 'no_authorization', 'Invalid API key');
      }
      const ip = req.socket.remoteAddress ?? null;
      const refuseWhenOver = (waitSeconds: number | null) => {
        if (waitSeconds !== null) {
          throw new ProviderError(429, 'over_request_rate_limit', 'Request rate limit reached', { retryAfterSeconds: waitSeconds });
        }
      };
      const action = route.limit && (typeof route.limit.action === 'function' ? route.limit.action(url) : route.limit.action);
      if (action) refuseWhenOver(await deps.limits.perIp(action, ip));
      let body: Promise<Body> | undefined;
      const call: Call = {
        req,
        res,
        url,
        params: route.pattern.exec(path)!.slice(1),
        meta: { ip, userAgent: (req.headers['user-agent'] as string | undefined) ?? null, requestId: req.headers['x-request-id'] as string },
        bearer: bearerOf(req),
        body: () => (body ??= readJsonObject(req, deps.bodyLimitBytes)),
        redirectTo: redirectTarget(auth, url.searchParams.get('redirect_to'))?.href,
      };
      if (action && route.limit?.subject) refuseWhenOver(await deps.limits.perIdentifier(action, await route.limit.subject(call)));
      const result = await route.handle(call);
      if (result === NO_CONTENT) {
        if (!res.headersSent) {
          res.writeHead(204);
          res.end();
        }
        return;
      }
      sendJson(res, 200, result);
      if (deps.wants(method, path)) await record({ method, path, query: url.searchParams, status: 200, body: result, bearer: call.bearer, meta: call.meta });
    } catch (error) {
      if (res.headersSent) {
        log.error({ err: error }, 'error after the /auth/v1 response started');
        res.destroy();
        return;
      }
      sendProviderError(req, res, error, log);
    }
  }

  return [
    ...(['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'] as const).map(
      (method): RestRoute => ({
        method,
        path: '/auth/v1/*',
        handle: (req, res, url) => handle(req, res, url, url.pathname.slice('/auth/v1'.length) || '/'),
      }),
    ),
    { method: 'GET', path: '/.well-known/jwks.json', handle: (req, res, url) => handle(req, res, url, '/.well-known/jwks.json') },
  ];
}
