import type http from 'node:http';
import { verifyStandardWebhook } from '../auth/standard-webhooks.js';
import { constantTimeEqual } from '../crypto.js';
import { AppError, restErrorBody } from '../errors.js';
import { ProviderError } from '../identity/errors.js';
import type { AccessTokenHook, AccessTokenHookInput } from '../services/access-token-hook.js';
import type { ApiKeySync } from '../services/api-key-sync.js';
import type { RateLimit } from '../services/rate-limits.js';
import type { UserSync, UserSyncPayload } from '../services/user-sync.js';
import { parseJsonObject, readText } from './body.js';
import { sendError, sendJson, type RestRoute } from './rest.js';

export interface WebhookRouteDeps {
  /** Off (404) without GOTRUE_HOOK_SECRET. */
  hook: { secret: string; service: AccessTokenHook } | null;
  /** Off (404) without SYNC_WEBHOOK_SECRET. */
  sync: { secret: string; service: UserSync; apiKeys: ApiKeySync } | null;
  /** Failed secret or signature checks per IP; once over, the IP is refused before any check until the window ends. */
  secretFailures: RateLimit;
  bodyLimitBytes: number;
  clock: () => number;
}

/** A hook failure as GoTrue reads it: {"error":{"http_code","message"}} fails the token request. */
const hookError = (res: http.ServerResponse, status: number, message: string, headers: Record<string, string> = {}) =>
  sendJson(res, status, { error: { http_code: status, message } }, headers);

async function jsonBody(req: http.IncomingMessage, limit: number): Promise<{ raw: string; body: Record<string, unknown> }> {
  try {
    const raw = await readText(req, limit);
    return { raw, body: parseJsonObject(raw) };
  } catch (error) {
    if (error instanceof ProviderError) throw new AppError(error.status === 413 ? 'payload_too_large' : 'bad_request', error.message);
    throw error;
  }
}

/** A refusal as a sync sender needs it to fix its payload: the REST error with the field, the reason and the permissions in excess. */
function syncErrorBody(error: AppError, requestId?: string) {
  const details = Object.fromEntries(['field', 'reason', 'permissions', 'max'].filter((name) => error.extensions[name] !== undefined).map((name) => [name, error.extensions[name]]));
  return { ...restErrorBody(error, requestId), ...details };
}

/** Calls from GoTrue's side and its neighbours: the custom access token hook, and the user and API-key sync webhooks. */
export function webhookRoutes({ hook, sync, secretFailures, bodyLimitBytes, clock }: WebhookRouteDeps): RestRoute[] {
  const routes: RestRoute[] = [];
  const ipOf = (req: http.IncomingMessage) => req.socket.remoteAddress ?? 'unknown';
  /** Seconds to wait when the caller's IP has failed too often; a guesser learns nothing from a right guess made then. */
  const lockedOut = (req: http.IncomingMessage) => secretFailures.waitFor(ipOf(req));
  const countFailure = (req: http.IncomingMessage) => secretFailures.consume(ipOf(req));
  if (hook) {
    routes.push({
      method: 'POST',
      path: '/hooks/custom-access-token',
      async handle(req, res) {
        const wait = await lockedOut(req);
        if (wait !== null) return hookError(res, 429, 'too many failed signature checks', { 'retry-after': String(wait) });
        let raw: string;
        let body: Record<string, unknown>;
        try {
          ({ raw, body } = await jsonBody(req, bodyLimitBytes));
        } catch (error) {
          return hookError(res, error instanceof AppError ? error.status : 400, 'invalid payload');
        }
        if (!verifyStandardWebhook({ secret: hook.secret, headers: req.headers, body: raw, now: clock() })) {
          await countFailure(req);
          return hookError(res, 401, 'invalid webhook signature');
        }
        const input = body as unknown as AccessTokenHookInput;
        if (typeof input.user_id !== 'string' || !input.claims || typeof input.claims !== 'object') return hookError(res, 400, 'user_id and claims are required');
        sendJson(res, 200, await hook.service.claims(input));
      },
    });
  }
  if (sync) {
    // Every sync route: the shared secret (constant time) before the body is read, then a JSON object.
    const syncRoute = (path: string, run: (body: Record<string, unknown>, meta: { requestId?: string }) => Promise<unknown>): RestRoute => ({
      method: 'POST',
      path,
      async handle(req, res) {
        const wait = await lockedOut(req);
        if (wait !== null) return sendError(res, new AppError('rate_limited', 'Too many failed secret checks from this address; retry later.'), { 'retry-after': String(wait) });
        const presented = req.headers['x-webhook-secret'];
        if (typeof presented !== 'string' || !constantTimeEqual(presented, sync.secret)) {
          await countFailure(req);
          return sendError(res, new AppError('unauthenticated', 'Invalid webhook secret.'));
        }
        const requestId = req.headers['x-request-id'] as string | undefined;
        try {
          const { body } = await jsonBody(req, bodyLimitBytes);
          sendJson(res, 200, await run(body, { requestId }));
        } catch (error) {
          if (error instanceof AppError) return sendJson(res, error.status, syncErrorBody(error, requestId));
          throw error;
        }
      },
    });
    routes.push(
      syncRoute('/v1/sync/user', (body, meta) => sync.service.sync(body as UserSyncPayload, meta)),
      syncRoute('/v1/sync/api-key', (body, meta) => sync.apiKeys.sync(body, meta)),
      syncRoute('/v1/sync/backfill-api-keys', async (body, meta) => {
        const outcome = await sync.apiKeys.backfill(body, meta);
        return { ...outcome, results: outcome.results.map((r) => ('error' in r ? { index: r.index, apiKeyId: r.apiKeyId, error: syncErrorBody(r.error) } : r)) };
      }),
    );
  }
  return routes;
}
