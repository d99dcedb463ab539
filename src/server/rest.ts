import type http from 'node:http';
import { AppError, restErrorBody } from '../errors.js';

export interface RestRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS';
  /** Exact path, or a prefix when it ends with `/*`. */
  path: string;
  handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> | void;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: http.ServerResponse, error: AppError, headers: Record<string, string> = {}) {
  sendJson(res, error.status, restErrorBody(error, res.getHeader('x-request-id') as string | undefined), headers);
}

export function matchRoute(routes: readonly RestRoute[], method: string, pathname: string) {
  const onPath = routes.filter((r) =>
    r.path.endsWith('/*') ? pathname.startsWith(r.path.slice(0, -1)) || pathname === r.path.slice(0, -2) : pathname === r.path,
  );
  return { route: onPath.find((r) => r.method === method), allowed: onPath.map((r) => r.method) };
}

export function notFound(method: string, pathname: string) {
  return new AppError('not_found', `No route for ${method} ${pathname}.`);
}
