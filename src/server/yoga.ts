import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { createYoga, type Plugin, type YogaInitialContext } from 'graphql-yoga';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { GraphQLContext } from '../schema/context.js';
import type { OriginService } from '../services/origins.js';
import { useGraphqlCors } from './cors.js';
import { MAX_ENTITY_REPRESENTATIONS } from '../schema/complexity.js';
import { useEntityLimits } from './entity-limits.js';
import { renderGraphiQLPage, useGraphiQLAssets } from './graphiql.js';
import { createMaskError, graphqlErrorBody, normalizeResultErrors } from './graphql-errors.js';
import { useInputRule } from './input-rule.js';
import { useCredentialOriginCheck } from './origin-check.js';
import { requestIdFrom } from './request-id.js';
import { useSharedSubscriptionResults } from './shared-subscription-results.js';
import { useTenantScope } from './tenant-scope-plugin.js';

export const graphqlPath = '/graphql';

export interface YogaDeps {
  schema: GraphQLSchema;
  config: Config;
  log: Logger;
  /** Builds the per-operation context from yoga's initial context (HTTP request or graphql-ws socket). */
  buildContext: (initial: YogaInitialContext & Record<string, unknown>, requestId: string) => Promise<GraphQLContext> | GraphQLContext;
  /** Null when ready; otherwise why GraphQL cannot be served yet. */
  notReadyReason: () => string | null;
  /** The realm's origin allowlist, which decides CORS. */
  origins: Pick<OriginService, 'corsAccess'>;
}

// Armor's validation rules report through onReject so the error carries our code.
function reportTooComplex(ctx: { reportError(error: GraphQLError): void } | null, error: GraphQLError) {
  ctx?.reportError(new GraphQLError(error.message, { extensions: { code: 'query_too_complex', http: { status: 400, spec: true } } }));
}

const csrfHeaders = ['x-graphql-yoga-csrf', 'apollo-require-preflight'];
const csrfRefusal =
  'Required CSRF header(s) not present: send a POST with Content-Type: application/json, ' +
  `or add the header ${csrfHeaders[0]}: 1 (or ${csrfHeaders[1]}: true) to a GET or any other request.`;

/**
 * Yoga's CSRF prevention, unchanged, with a message that says what to send. A request a browser could send
 * cross-site without a preflight (a GET, or a form's content type) must carry a custom header.
 */
function useCsrfPrevention(): Plugin {
  const { onRequestParse } = useCSRFPrevention({ requestHeaders: csrfHeaders });
  return {
    onRequestParse(payload) {
      try {
        return onRequestParse?.(payload);
      } catch {
        throw new GraphQLError(csrfRefusal, { extensions: { code: 'bad_request', http: { status: 403 } } });
      }
    },
  };
}

// Yoga reports client errors (a bad global ID, say) at error level; unexpected
// errors are logged once, with the request id, by maskError, so its reports go to debug.
function yogaLogger(log: Logger) {
  const at = (level: 'debug' | 'info' | 'warn') => (...args: unknown[]) => {
    const err = args.find((a) => a instanceof Error);
    const message = args.filter((a) => typeof a === 'string').join(' ') || (err as Error | undefined)?.message || 'yoga';
    log[level](err ? { err } : {}, message);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('debug') };
}

export function createYogaServer({ schema, config, log, buildContext, notReadyReason, origins }: YogaDeps) {
  const limits = config.graphql;
  const readinessGate: Plugin = {
    onRequest({ url, endResponse, fetchAPI }) {
      const reason = notReadyReason();
      if (reason && url.pathname === graphqlPath) {
        const error = new AppError('unavailable', `idgraph is not ready: ${reason}`);
        endResponse(
          new fetchAPI.Response(JSON.stringify(graphqlErrorBody(error)), {
            status: error.status,
            headers: { 'content-type': 'application/json', 'retry-after': '5' },
          }),
        );
      }
    },
  };
  const taxonomy: Plugin = {
    onResultProcess({ result, setResult }) {
      if (!Array.isArray(result) && !(Symbol.asyncIterator in result)) setResult(normalizeResultErrors(result));
    },
    onResponse({ request, response }) {
      response.headers.set('x-request-id', requestIdFrom(request.headers.get('x-request-id')));
    },
  };

  return createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    graphqlEndpoint: graphqlPath,
    landingPage: false,
    graphiql: limits.graphiql ? { title: 'idgraph', headers: JSON.stringify({ 'x-graphql-yoga-csrf': '1' }) } : false,
    renderGraphiQL: renderGraphiQLPage,
    logging: yogaLogger(log.child({ component: 'yoga' })),
    // Yoga's own CORS reflects every Origin with credentials; useGraphqlCors asks the allowlist instead.
    cors: false,
    maskedErrors: { maskError: createMaskError(log) },
    // Introspection stays on: federation gateways and codegen read the schema.
    context: (initial) => buildContext(initial, requestIdFrom(initial.request?.headers.get('x-request-id'))),
    plugins: [
      useGraphqlCors(origins),
      ...(limits.graphiql ? [useGraphiQLAssets()] : []),
      readinessGate,
      useCsrfPrevention(),
      maxTokensPlugin({ n: limits.maxTokens }),
      maxDepthPlugin({ n: limits.maxDepth, ignoreIntrospection: true, propagateOnRejection: false, onReject: [reportTooComplex] }),
      maxAliasesPlugin({ n: limits.maxAliases, propagateOnRejection: false, onReject: [reportTooComplex] }),
      useEntityLimits({ maxRepresentations: MAX_ENTITY_REPRESENTATIONS, maxCost: limits.maxCost }),
      useCredentialOriginCheck(),
      useInputRule(),
      // Before the tenant scope, which wraps the subscribe it sets.
      useSharedSubscriptionResults(),
      ...(config.rowLevelSecurity ? [useTenantScope()] : []),
      taxonomy,
    ],
  });
}

export type YogaServer = ReturnType<typeof createYogaServer>;

