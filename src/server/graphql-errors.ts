import { GraphQLError, type ExecutionResult } from 'graphql';
import { AppError, errorCatalog, isErrorCode, toGraphQLError } from '../errors.js';
import { databaseUnavailable, isDatabaseUnavailable, isRecordNotFound } from '../db/errors.js';
import type { Logger } from '../log.js';

const tooComplex = /^Syntax Error: (Query depth limit|Query Cost limit|Aliases limit|Token limit|Directives limit)/i;
// @apollo/subgraph's _entities resolver refuses a representation whose __typename names no type with a plain Error.
const unknownEntityType = /^The _entities resolver tried to load an entity for type "/;

/**
 * Gives every client-caused GraphQL error one code of the taxonomy:
 * parse and validation failures become bad_request, armor's limits query_too_complex.
 */
export function withTaxonomyCode(error: GraphQLError): GraphQLError {
  if (isErrorCode(error.extensions?.code)) return error;
  const code = tooComplex.test(error.message) ? 'query_too_complex' : 'bad_request';
  // Keep yoga's http hints (status, and `spec` for GraphQL-over-HTTP status rules).
  const http = (error.extensions?.http as Record<string, unknown> | undefined) ?? { status: 400 };
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { ...error.extensions, code, http },
  });
}

export function normalizeResultErrors<T extends ExecutionResult>(result: T): T {
  if (!result.errors?.length) return result;
  return { ...result, errors: result.errors.map((e) => (e instanceof GraphQLError ? withTaxonomyCode(e) : e)) };
}

/**
 * Yoga's maskError: AppErrors keep their code and safe message; GraphQL errors
 * raised by graphql-js itself (bad variables, unknown fields) are the client's;
 * a database that does not answer in time is unavailable (503, retry after a
 * second); a required row that is missing is not_found; anything else is
 * logged and masked as server_error.
 */
export function createMaskError(log: Logger) {
  return (error: unknown): Error => {
    const graphQLError = error instanceof GraphQLError ? error : undefined;
    const original = graphQLError?.originalError ?? error;
    if (original instanceof AppError) return toGraphQLError(original, graphQLError);
    if (graphQLError && (!graphQLError.originalError || graphQLError.originalError instanceof GraphQLError)) {
      return withTaxonomyCode(graphQLError);
    }
    if (original instanceof Error && unknownEntityType.test(original.message)) {
      return toGraphQLError(new AppError('bad_request', 'Each representation must be an object whose __typename names an entity type.'), graphQLError);
    }
    if (isDatabaseUnavailable(original)) {
      log.warn({ err: original, path: graphQLError?.path }, 'database unavailable; the request was refused with unavailable');
      return toGraphQLError(databaseUnavailable(original), graphQLError);
    }
    // A node id, say, naming a row that does not exist: the field is null, as for any missing object. The rest of
    // the response stands, so the error carries no HTTP status that would turn a partial result into a 404.
    if (isRecordNotFound(original)) {
      const { nodes, source, positions, path } = graphQLError ?? {};
      return new GraphQLError(errorCatalog.not_found.message, { nodes, source, positions, path, extensions: { code: 'not_found' } });
    }
    log.error({ err: original, path: graphQLError?.path }, 'unexpected error in a resolver');
    return toGraphQLError(new AppError('server_error'), graphQLError);
  };
}
