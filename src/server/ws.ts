import type http from 'node:http';
import type { ExecutionArgs } from 'graphql';
import { GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { requestScope } from '../log.js';
import { normalizeResultErrors, withTaxonomyCode } from './graphql-errors.js';
import { requestIdFrom } from './request-id.js';
import { graphqlPath, type YogaServer } from './yoga.js';

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

/**
 * A graphql-ws subscriber's credential, as clients and gateways send it: `connectionParams.authorization`
 * ("Bearer …" or "ApiKey …"), a bare `token` parameter (Apollo Router's default for subgraph WebSockets),
 * or the upgrade request's Authorization header (gateways that forward headers on the upgrade). Browsers
 * cannot set that header on a WebSocket, so it is never an ambient credential another site could ride on.
 */
export function connectionCredential(params: Record<string, unknown> | undefined, upgrade: http.IncomingMessage | undefined): string | undefined {
  const given = params?.authorization ?? params?.Authorization;
  if (typeof given === 'string') return given;
  const token = params?.token;
  if (typeof token === 'string') return /^(Bearer|ApiKey)\s/i.test(token.trim()) ? token : `Bearer ${token}`;
  const header = upgrade?.headers.authorization;
  return typeof header === 'string' ? header : undefined;
}

/**
 * graphql-ws on the same port and path as HTTP, running every operation through
 * yoga's envelop (same plugins, limits, masking and context as HTTP).
 */
export function attachGraphqlWs(
  server: http.Server,
  yoga: YogaServer,
  options: {
    maxPayloadBytes: number;
    /** Checks connectionParams at connection time; false closes the socket with 4403 Forbidden. */
    authorizeConnection?: (connectionParams: Record<string, unknown> | undefined, upgrade: http.IncomingMessage) => Promise<boolean>;
  },
) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes });

  server.on('upgrade', (req, socket, head) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname !== graphqlPath) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  const disposable = useServer(
    {
      onConnect: async (ctx) => (options.authorizeConnection ? options.authorizeConnection(ctx.connectionParams, ctx.extra.request) : true),
      execute: async (args) => {
        const root = args.rootValue as EnvelopedRoot;
        return normalizeResultErrors((await root.execute(args)) as Parameters<typeof normalizeResultErrors>[0]);
      },
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onSubscribe: async (ctx, id, payload) => {
        const requestId = requestIdFrom(undefined);
        return requestScope.run({ requestId }, async () => {
          const enveloped = yoga.getEnveloped({
            ...ctx,
            req: ctx.extra.request,
            socket: ctx.extra.socket,
            params: payload,
            // yoga's envelop reads the request: a WebSocket operation is not a GET (mutations are allowed).
            request: new Request(`http://localhost${graphqlPath}`, { method: 'POST', headers: { 'x-request-id': requestId } }),
          });
          let document;
          try {
            document = enveloped.parse(payload.query);
          } catch (error) {
            return [withTaxonomyCode(error instanceof GraphQLError ? error : new GraphQLError(String(error)))];
          }
          const errors = enveloped.validate(enveloped.schema, document);
          if (errors.length > 0) return errors.map(withTaxonomyCode);
          const args: ExecutionArgs = {
            schema: enveloped.schema,
            document,
            operationName: payload.operationName,
            variableValues: payload.variables,
            contextValue: await enveloped.contextFactory(),
            rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe } satisfies EnvelopedRoot,
          };
          return args;
        });
      },
    },
    wss,
  );

  return {
    async close() {
      for (const client of wss.clients) client.close(1001, 'Going away');
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
