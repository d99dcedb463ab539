import type http from 'node:http';
import { verifyStandardWebhook } from '../auth/standard-webhooks.js';
import { constantTimeEqual } from '../crypto.js';
import { AppError } from '../errors.js';
import { ProviderError } from '../identity/errors.js';
import type { AccessTokenHook, AccessTokenHookInput } from '../services/access-token-hook.js';
import type { UserSync, UserSyncPayload } from '../services/user-sync.js';
import { parseJsonObject, readText } from './body.js';
import { sendError, sendJson, type RestRoute } from './rest.js';

export interface WebhookRouteDeps {
  /** Off (404) without GOTRUE_HOOK_SECRET. */
  hook: { secret: string; service: AccessTokenHook } | null;
  /** Off (404) without SYNC_WEBHOOK_SECRET. */
  sync: { secret: string; service: UserSync } | null;
  bodyLimitBytes: number;
  clock: () => number;
}

/** A hook failure as GoTrue reads it: {"error":{"http_code","message"}} fails the token request. */
const hookError = (res: http.ServerResponse, status: number, message: string) => sendJson(res, status, { error: { http_code: status, message } });

async function jsonBody(req: http.IncomingMessage, limit: number): Promise<{ raw: string; body: Record<string, unknown> }> {
  try {
    const raw = await readText(req, limit);
    return { raw, body: parseJsonObject(raw) };
  } catch (error) {
    if (error instanceof ProviderError) throw new AppError(error.status === 413 ? 'payload_too_large' : 'bad_request', error.message);
    throw error;
  }
}

/** Calls from GoTrue's side: the custom access token hook and the user sync webhook. */
export function webhookRoutes({ hook, sync, bodyLimitBytes, clock }: WebhookRouteDeps): RestRoute[] {
  const routes: RestRoute[] = [];
  if (hook) {
    routes.push({
      method: 'POST',
      path: '/hooks/custom-access-token',
      async handle(req, res) {
        let raw: string;
        let body: Record<string, unknown>;
        try {
          ({ raw, body } = await jsonBody(req, bodyLimitBytes));
        } catch (error) {
          return hookError(res, error instanceof AppError ? error.status : 400, 'invalid payload');
        }
        if (!verifyStandardWebhook({ secret: hook.secret, headers: req.headers, body: raw, now: clock() })) {
          return hookError(res, 401, 'invalid webhook signature');
        }
        const input = body as unknown as AccessTokenHookInput;
        if (typeof input.user_id !== 'string' || !input.claims || typeof input.claims !== 'object') return hookError(res, 400, 'user_id and claims are required');
        sendJson(res, 200, await hook.service.claims(input));
      },
    });
  }
  if (sync) {
    routes.push({
      method: 'POST',
      path: '/v1/sync/user',
      async handle(req, res) {
        const presented = req.headers['x-webhook-secret'];
        if (typeof presented !== 'string' || !constantTimeEqual(presented, sync.secret)) return sendError(res, new AppError('unauthenticated', 'Invalid webhook secret.'));
        try {
          const { body } = await jsonBody(req, bodyLimitBytes);
          sendJson(res, 200, await sync.service.sync(body as UserSyncPayload, { requestId: req.headers['x-request-id'] as string | undefined }));
        } catch (error) {
          if (error instanceof AppError) return sendError(res, error);
          throw error;
        }
      },
    });
  }
  return routes;
}
