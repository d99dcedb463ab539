import { GraphQLError, type ExecutionResult } from 'graphql';
import { AppError, errorCatalog, type HttpHint, isErrorCode, toGraphQLError } from '../errors.js';
import { databaseUnavailable, isDatabaseUnavailable, isRecordNotFound } from '../db/errors.js';
import type { Logger } from '../log.js';

const tooComplex = /^Syntax Error: (Query depth limit|Query Cost limit|Aliases limit|Token limit|Directives limit)/i;
// @apollo/subgraph's _entities resolver refuses a representation whose __typename names no type with a plain Error.
const unknownEntityType = /^The _entities resolver tried to load an entity for type "/;
// The codes yoga and its executor give the request errors of a well-formed request: the document does not parse or
// validate, names no operation to run, or its variables do not coerce (graphql-js's own errors carry no code). Yoga's
// BAD_REQUEST marks a body that is no GraphQL-over-HTTP request at all (JSON, parameters, a mutation over GET).
const requestErrorCodes = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'OPERATION_RESOLUTION_FAILURE', 'BAD_USER_INPUT']);

/*
 * The HTTP status of a /graphql response (README, "GraphQL over HTTP"). Yoga takes it from each error's
 * `extensions.http`; these rules decide that hint:
 * - a response with `data` (execution ran) is 200, whatever its errors: no error keeps a hint;
 * - a GraphQL request error (parse, validation, operation, variables, the query limits, a refusal of the operation
 *   before any resolver ran) is `spec`: 200 under application/json, its status under application/graphql-response+json;
 * - a refusal of the request itself before execution (body, media type, CSRF, credentials, readiness, the database
 *   when the credential is checked) keeps its status under both.
 */

/** A refusal of the whole request before execution: its status under every media type. */
export function transportHint(error: AppError): HttpHint {
  const retryAfter = error.extensions.retryAfterSeconds;
  return { status: error.status, ...(typeof retryAfter === 'number' ? { headers: { 'retry-after': String(retryAfter) } } : {}) };
}

function requestErrorHint(http: HttpHint | undefined, code: string): HttpHint {
  return { ...http, status: http?.status ?? (isErrorCode(code) ? errorCatalog[code].status : 400), spec: true };
}

function withExtensions(error: GraphQLError, extensions: Record<string, unknown>): GraphQLError {
  const { nodes, source, positions, path } = error;
  return new GraphQLError(error.message, { nodes, source, positions, path, extensions });
}

/**
 * Gives every client-caused GraphQL error one code of the taxonomy:
 * parse and validation failures become bad_request, armor's limits query_too_complex.
 */
export function withTaxonomyCode(error: GraphQLError): GraphQLError {
  if (isErrorCode(error.extensions?.code)) return error;
  const code = tooComplex.test(error.message) ? 'query_too_complex' : 'bad_request';
  const http = error.extensions?.http as HttpHint | undefined;
  const given = error.extensions?.code;
  let hint = http ?? requestErrorHint(undefined, code);
  if (given === 'BAD_REQUEST') hint = { status: http?.status ?? 400, ...(http?.headers ? { headers: http.headers } : {}) };
  else if (given === undefined || requestErrorCodes.has(String(given))) hint = requestErrorHint(http, code);
  return withExtensions(error, { ...error.extensions, code, http: hint });
}

/** The status rule applied to one error of a finished result (see above). */
function withStatusRule(error: GraphQLError, executed: boolean): GraphQLError {
  const http = error.extensions?.http as HttpHint | undefined;
  if (executed) {
    if (!http) return error;
    const { http: _dropped, ...extensions } = error.extensions;
    return withExtensions(error, extensions);
  }
  return http ? error : withExtensions(error, { ...error.extensions, http: requestErrorHint(undefined, String(error.extensions?.code ?? '')) });
}

export function normalizeResultErrors<T extends ExecutionResult>(result: T): T {
  if (!result.errors?.length) return result;
  const executed = 'data' in result;
  return { ...result, errors: result.errors.map((e) => (e instanceof GraphQLError ? withStatusRule(withTaxonomyCode(e), executed) : e)) };
}

/**
 * Yoga's maskError: AppErrors keep their code and safe message; GraphQL errors
 * raised by graphql-js itself (bad variables, unknown fields) are the client's;
 * a database that does not answer in time is unavailable (retry after a
 * second; 503 when it refuses the whole request); a required row that is missing is not_found; anything else is
 * logged and masked as server_error.
 */
export function createMaskError(log: Logger) {
  return (error: unknown): Error => {
    const graphQLError = error instanceof GraphQLError ? error : undefined;
    const original = graphQLError?.originalError ?? error;
    // An error outside any GraphQL error was thrown before execution (building the context: the credential), so
    // it refuses the whole request; inside one it belongs to a field, a variable or the operation.
    const clientError = (appError: AppError) => toGraphQLError(appError, graphQLError, graphQLError ? undefined : transportHint(appError));
    if (original instanceof AppError) return clientError(original);
    if (graphQLError && (!graphQLError.originalError || graphQLError.originalError instanceof GraphQLError)) {
      return withTaxonomyCode(graphQLError);
    }
    if (original instanceof Error && unknownEntityType.test(original.message)) {
      return clientError(new AppError('bad_request', 'Each representation must be an object whose __typename names an entity type.'));
    }
    if (isDatabaseUnavailable(original)) {
      log.warn({ err: original, path: graphQLError?.path }, 'database unavailable; the request was refused with unavailable');
      return clientError(databaseUnavailable(original));
    }
    // A node id, say, naming a row that does not exist: the field is null, as for any missing object. The rest of
    // the response stands, so the error carries no HTTP status that would turn a partial result into a 404.
    if (isRecordNotFound(original)) {
      const { nodes, source, positions, path } = graphQLError ?? {};
      return new GraphQLError(errorCatalog.not_found.message, { nodes, source, positions, path, extensions: { code: 'not_found' } });
    }
    log.error({ err: original, path: graphQLError?.path }, 'unexpected error in a resolver');
    return clientError(new AppError('server_error'));
  };
}

/** The GraphQL-shaped body of a refusal that happens outside yoga (readiness, body size): `{ errors: [...] }`. */
export function graphqlErrorBody(error: AppError) {
  return { errors: [{ message: error.message, extensions: { ...error.extensions, code: error.code } }] };
}
