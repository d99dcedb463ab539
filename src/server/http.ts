import http from 'node:http';
import type { Socket } from 'node:net';
import { AppError } from '../errors.js';
import { type Logger, requestScope } from '../log.js';
import { requestIdFrom } from './request-id.js';
import { graphiqlAssetPath } from './graphiql.js';
import { graphqlErrorBody } from './graphql-errors.js';
import { matchRoute, notFound, sendError, sendJson, type RestRoute } from './rest.js';
import { graphqlPath, type YogaServer } from './yoga.js';

export interface HttpServerDeps {
  yoga: YogaServer;
  routes: readonly RestRoute[];
  bodyLimitBytes: number;
  log: Logger;
}

const methodsWithBody = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Refuses bodies over the limit before anyone reads them. */
function checkBodySize(req: http.IncomingMessage, limit: number): AppError | null {
  if (!methodsWithBody.has(req.method ?? '')) return null;
  const length = req.headers['content-length'];
  if (length === undefined) {
    if (req.headers['transfer-encoding']) return new AppError('bad_request', 'Send a Content-Length header; chunked request bodies are not accepted.');
    return null;
  }
  const bytes = Number(length);
  if (!Number.isFinite(bytes) || bytes < 0) return new AppError('bad_request', 'Invalid Content-Length header.');
  if (bytes > limit) return new AppError('payload_too_large', `The request body exceeds ${limit} bytes.`, { limit });
  return null;
}

export function createHttpServer({ yoga, routes, bodyLimitBytes, log }: HttpServerDeps) {
  const sockets = new Set<Socket>();

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://localhost');
    const tooLarge = checkBodySize(req, bodyLimitBytes);
    if (tooLarge) {
      // The body was not read: close the connection instead of draining it.
      res.shouldKeepAlive = false;
      // GraphQL clients read `errors`, whatever the status; REST clients read error_code.
      if (url.pathname === graphqlPath) return sendJson(res, tooLarge.status, graphqlErrorBody(tooLarge), { connection: 'close' });
      return sendError(res, tooLarge, { connection: 'close' });
    }
    if (url.pathname === graphqlPath || url.pathname.startsWith(graphiqlAssetPath)) return yoga(req, res);
    const { route, allowed } = matchRoute(routes, method, url.pathname);
    if (route) return route.handle(req, res, url);
    if (allowed.length > 0) {
      return sendError(res, new AppError('bad_request', `Method ${method} is not allowed here.`), { allow: allowed.join(', ') });
    }
    return sendError(res, notFound(method, url.pathname));
  };

  let closing = false;
  const server = http.createServer((req, res) => {
    if (closing) res.shouldKeepAlive = false;
    // A keep-alive socket that served the last in-flight request must not hold shutdown until its idle timeout.
    res.once('finish', () => closing && setImmediate(() => server.closeIdleConnections()));
    const requestId = requestIdFrom(req.headers['x-request-id']);
    req.headers['x-request-id'] = requestId;
    res.setHeader('x-request-id', requestId);
    requestScope.run({ requestId }, () => {
      Promise.resolve(handle(req, res)).catch((error: unknown) => {
        log.error({ err: error, method: req.method, path: req.url?.split('?')[0] }, 'unhandled error in an HTTP route');
        if (!res.headersSent) sendError(res, new AppError('server_error'));
        else res.destroy();
      });
    });
  });
  server.headersTimeout = 30_000;
  server.requestTimeout = 60_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });

  return {
    server,
    /** Stops accepting, lets in-flight requests finish, then closes what is left after `timeoutMs`. */
    async close(timeoutMs: number) {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, timeoutMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
    },
  };
}
