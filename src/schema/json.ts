import { GraphQLScalarType } from 'graphql';
import { JSONResolver } from 'graphql-scalars';
import { AppError } from '../errors.js';
import { boundedJsonProblem, inputBounds } from '../services/input.js';

function bounded(value: unknown): unknown {
  const problem = boundedJsonProblem(value);
  if (problem) throw new AppError('bad_request', `${problem.path || 'JSON'}: ${problem.message}`, problem.path ? { field: problem.path } : {});
  return value;
}

/**
 * JSON, held on input to the bounds every JSON value a client sends has (user
 * metadata, tenant config): a value nested past the stack would otherwise
 * overflow it wherever it is serialized.
 */
export const BoundedJSONResolver = new GraphQLScalarType({
  ...JSONResolver.toConfig(),
  description: `${JSONResolver.description} On input: at most ${inputBounds.jsonDepth} levels deep and ${inputBounds.jsonBytes / 1024} KiB as JSON.`,
  parseValue: (value) => bounded(JSONResolver.parseValue(value)),
  parseLiteral: (ast, variables) => bounded(JSONResolver.parseLiteral(ast, variables)),
});
