import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import { databaseUnavailable, isDatabaseUnavailable } from '../db/errors.js';
import { AppError } from '../errors.js';
import { ProviderError } from '../identity/errors.js';
import type { Logger } from '../log.js';

const API_VERSION = '2024-01-01';

const fromAppError = (error: AppError) =>
  new ProviderError(error.status, error.code, error.message, {
    ...(typeof error.extensions.retryAfterSeconds === 'number' ? { retryAfterSeconds: error.extensions.retryAfterSeconds } : {}),
  });

/** GoTrue's error shapes (GOTRUE.md §2): versioned, legacy, or OAuth-style. An AppError keeps its code and status. */
export function sendProviderError(req: http.IncomingMessage, res: http.ServerResponse, error: unknown, log: Logger) {
  const known = error instanceof ProviderError || error instanceof AppError;
  const unavailable = !known && isDatabaseUnavailable(error);
  const err =
    error instanceof ProviderError
      ? error
      : error instanceof AppError
        ? fromAppError(error)
        : unavailable
          ? new ProviderError(503, 'unexpected_failure', databaseUnavailable(error).message, { retryAfterSeconds: 1 })
          : new ProviderError(500, 'unexpected_failure', 'Unexpected failure, please check server logs for more information');
  const errorId = err.status >= 500 ? randomUUID() : undefined;
  if (unavailable) log.warn({ err: error, errorId }, 'database unavailable; /auth/v1 answered 503');
  else if (!known) log.error({ err: error, errorId }, 'unexpected error in /auth/v1');
  const versionHeader = req.headers['x-supabase-api-version'];
  const versioned = typeof versionHeader === 'string' && versionHeader >= API_VERSION;
  let body: Record<string, unknown>;
  if (err.extra.oauth) {
    body = { error: err.extra.oauth, error_description: err.message };
  } else if (versioned) {
    body = { code: err.errorCode, message: err.message };
  } else {
    body = { code: err.status, error_code: err.errorCode, msg: err.message, ...(errorId ? { error_id: errorId } : {}) };
  }
  if (err.extra.weakPassword) body.weak_password = err.extra.weakPassword;
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
  if (versioned) headers['x-supabase-api-version'] = API_VERSION;
  if (err.extra.retryAfterSeconds) headers['retry-after'] = String(err.extra.retryAfterSeconds);
  const text = JSON.stringify(body);
  res.writeHead(err.extra.oauth ? 400 : err.status, { ...headers, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
