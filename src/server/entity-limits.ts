import { ComplexityErrorKind, createComplexityRule } from '@pothos/plugin-complexity';
import { getOperationAST, Kind, validate, type DocumentNode, type FragmentDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { AppError, toGraphQLError } from '../errors.js';
import { complexityError } from '../schema/complexity.js';

/**
 * How many representations the operation's `_entities` selections carry, all
 * of them together (aliases, fragments): a variable's array as sent, or an
 * inline list. Null when the operation selects no `_entities`.
 */
export function entityRepresentationCount(document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown>): number | null {
  const operation = getOperationAST(document, operationName);
  if (!operation) return null;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  const seen = new Set<string>();
  let count: number | null = null;
  const visit = (selectionSet: SelectionSetNode) => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet);
      else if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (fragment && !seen.has(fragment.name.value)) {
          seen.add(fragment.name.value);
          visit(fragment.selectionSet);
        }
      } else if (selection.name.value === '_entities') {
        const value = selection.arguments?.find((arg) => arg.name.value === 'representations')?.value;
        const sent = value?.kind === Kind.VARIABLE ? variables[value.name.value] : undefined;
        // A single value where a list is expected is coerced to a list of one.
        const size = Array.isArray(sent) ? sent.length : value?.kind === Kind.LIST ? value.values.length : 1;
        count = (count ?? 0) + size;
      }
    }
  };
  visit(operation.selectionSet);
  return count;
}

/**
 * Bounds federation's `_entities` before anything resolves: at most
 * `maxRepresentations` per request, and the operation within the query cost
 * budget, each representation counted. Pothos checks cost when one of its own
 * root fields resolves; `_entities` is the federation plugin's, so an operation
 * that selects it is costed here, by the same rule (schema/complexity.ts).
 */
export function useEntityLimits({ maxRepresentations, maxCost }: { maxRepresentations: number; maxCost: number }): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const variables = (args.variableValues ?? {}) as Record<string, unknown>;
      const count = entityRepresentationCount(args.document, args.operationName, variables);
      if (count === null) return;
      const refuse = (error: AppError) => setResultAndStopExecution({ errors: [toGraphQLError(error)] });
      if (count > maxRepresentations) {
        return refuse(
          new AppError('query_too_complex', `The query asks for ${count} entity representations, over the limit of ${maxRepresentations}.`, {
            representations: count,
            limit: maxRepresentations,
          }),
        );
      }
      let cost: { complexity: number; depth: number; breadth: number } | null = null;
      const rule = createComplexityRule({ context: args.contextValue as object, variableValues: variables, operationName: args.operationName, onResult: (result) => (cost = result) });
      validate(args.schema, args.document, [rule]);
      const measured = cost as { complexity: number; depth: number; breadth: number } | null;
      if (measured && measured.complexity > maxCost) return refuse(complexityError(ComplexityErrorKind.Complexity, { ...measured, maxComplexity: maxCost }));
    },
  };
}
