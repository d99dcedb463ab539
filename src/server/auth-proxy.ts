import type http from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { GotrueTransport } from '../identity/gotrue/transport.js';
import type { RequestMeta } from '../identity/types.js';
import type { Logger } from '../log.js';
import type { RequestOrigin } from '../services/origins.js';
import { type AuthAnswerRecording, bearerOf } from './auth-answer.js';
import { sendProviderError } from './auth-errors.js';
import { requestOriginOf } from './origin-check.js';
import type { RestRoute } from './rest.js';

export interface AuthProxyDeps extends AuthAnswerRecording {
  transport: GotrueTransport;
  /** Sent as apikey when the client sent none: GoTrue ignores it, its gateway does not. */
  anonKey: string;
  /** The realm's browser-origin allowlist, as on the embedded router (preflights pass). */
  checkOrigin: (request: RequestOrigin) => Promise<void>;
  log: Logger;
}

// Hop-by-hop headers belong to one connection (RFC 9110 §7.6.1); undici refuses some of them outright.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect', 'host', 'proxy-authorization']);
/** Kept bodies are GoTrue's JSON answers; anything bigger is passed on without being read. */
const MAX_KEPT_BYTES = 1024 * 1024;

function upstreamHeaders(req: http.IncomingMessage, anonKey: string, ip: string | null): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === 'x-forwarded-for') continue;
    headers[name] = value;
  }
  headers.apikey ??= anonKey;
  // The socket's peer, not a client-supplied chain: GoTrue's per-IP limits key on the first value.
  if (ip) headers['x-forwarded-for'] = ip;
  return headers;
}

function downstreamHeaders(upstream: http.IncomingHttpHeaders): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === 'x-request-id') continue;
    headers[name] = value;
  }
  return headers;
}

/**
 * /auth/v1 in front of GoTrue: method, path, query, headers and body stream
 * to GoTrue and its answer streams back unchanged (status, headers, body).
 * The request-size limit and the refusal of chunked bodies are the HTTP
 * server's, as for every route; timeouts and the circuit breaker are the
 * transport's. An unreachable GoTrue answers 503 upstream_unavailable in
 * GoTrue's own error shape.
 */
export function authProxyRoutes({ transport, anonKey, wants, afterAnswer, checkOrigin, log }: AuthProxyDeps): RestRoute[] {
  async function proxy(req: http.IncomingMessage, res: http.ServerResponse, url: URL, path: string) {
    const method = req.method ?? 'GET';
    const ip = req.socket.remoteAddress ?? null;
    const meta: RequestMeta = { ip, userAgent: req.headers['user-agent'] ?? null, requestId: req.headers['x-request-id'] as string | undefined };
    const hasBody = req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0';
    let upstream;
    try {
      if (method !== 'OPTIONS') await checkOrigin(requestOriginOf((name) => req.headers[name]));
      upstream = await transport.raw({ method, pathAndQuery: `${path}${url.search}`, headers: upstreamHeaders(req, anonKey, ip), body: hasBody ? req : null });
    } catch (error) {
      sendProviderError(req, res, error, log);
      return;
    }
    const keep = upstream.statusCode >= 200 && upstream.statusCode < 300 && wants(method, path);
    const kept: Buffer[] = [];
    let keptBytes = 0;
    if (keep) {
      upstream.body.on('data', (chunk: Buffer) => {
        keptBytes += chunk.length;
        if (keptBytes <= MAX_KEPT_BYTES) kept.push(chunk);
      });
    }
    res.writeHead(upstream.statusCode, downstreamHeaders(upstream.headers));
    try {
      await pipeline(upstream.body, res);
    } catch (error) {
      // The status line is out: all that is left is to cut the connection so the client sees a broken answer.
      log.warn({ err: error, method, path }, 'GoTrue answer interrupted while streaming');
      res.destroy();
      return;
    }
    if (!keep || keptBytes > MAX_KEPT_BYTES) return;
    try {
      const text = Buffer.concat(kept).toString('utf8');
      const body = text === '' ? null : (JSON.parse(text) as unknown);
      await afterAnswer({ method, path, query: url.searchParams, status: upstream.statusCode, body, bearer: bearerOf(req), meta });
    } catch (error) {
      log.error({ err: error, method, path }, 'recording a proxied GoTrue answer failed');
    }
  }

  return [
    ...(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const).map(
      (method): RestRoute => ({
        method,
        path: '/auth/v1/*',
        handle: (req, res, url) => proxy(req, res, url, url.pathname.slice('/auth/v1'.length) || '/'),
      }),
    ),
    { method: 'GET', path: '/.well-known/jwks.json', handle: (req, res, url) => proxy(req, res, url, '/.well-known/jwks.json') },
  ];
}
