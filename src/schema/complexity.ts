import { getNamedType, type GraphQLField, getNullableType, isListType } from 'graphql';
import type { ComplexityErrorKind, ComplexityResult } from '@pothos/plugin-complexity';
import { AppError } from '../errors.js';

/** What a connection costs when the query gives no first/last (Pothos relay's default page size). */
export const DEFAULT_PAGE_SIZE = 20;
/** A plain list field's guessed size. */
const LIST_MULTIPLIER = 10;

/**
 * The cost of one field and the multiplier of its selections, from the
 * arguments as executed (variables included, so `first: $n` costs what it
 * asks for): a connection multiplies by its page size, its `edges` list then
 * adds nothing more, other lists multiply by a guess.
 */
export function fieldComplexity<Context>(args: Record<string, unknown>, _ctx: Context, field: GraphQLField<unknown, Context, Record<string, unknown>>) {
  const named = getNamedType(field.type).name;
  if (named.endsWith('Connection')) {
    const size = [args.first, args.last].find((value): value is number => typeof value === 'number');
    return { field: 1, multiplier: Math.max(1, size ?? DEFAULT_PAGE_SIZE) };
  }
  if (isListType(getNullableType(field.type))) return { field: 1, multiplier: named.endsWith('Edge') ? 1 : LIST_MULTIPLIER };
  return { field: 1, multiplier: 1 };
}

/** The limit a query went over, as query_too_complex (the same code graphql-armor's depth, alias and token limits give). */
export function complexityError(kind: ComplexityErrorKind, result: ComplexityResult & { maxComplexity?: number; maxDepth?: number; maxBreadth?: number }) {
  const key = kind.toLowerCase() as keyof ComplexityResult;
  const limit = result[`max${kind}` as 'maxComplexity' | 'maxDepth' | 'maxBreadth'];
  return new AppError('query_too_complex', `The query's cost (${key}) is ${result[key]}, over the limit of ${limit}.`, { [key]: result[key], limit });
}

/** The most entity representations one request may ask `_entities` to resolve, all its selections together. */
export const MAX_ENTITY_REPRESENTATIONS = 100;

/** `_entities` resolves each representation: it costs one per representation, and its selections once per representation. */
export function entitiesComplexity(args: Record<string, unknown>) {
  const count = Array.isArray(args.representations) ? args.representations.length : 1;
  return { field: count, multiplier: count };
}
