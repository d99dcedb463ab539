import { type DocumentNode, getOperationAST, Kind, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { AppError, toGraphQLError } from '../errors.js';
import type { GraphQLContext } from '../schema/context.js';
import type { RequestOrigin } from '../services/origins.js';

/** The headers the origin allowlist decides on, from any header lookup (node or fetch). */
export function requestOriginOf(header: (name: string) => string | string[] | null | undefined): RequestOrigin {
  const one = (name: string) => {
    const value = header(name);
    return (Array.isArray(value) ? value[0] : value) ?? null;
  };
  return { origin: one('origin'), fetchSite: one('sec-fetch-site'), fetchMode: one('sec-fetch-mode') };
}

/** The GraphQL mutations that prove or obtain credentials: the auth calls the origin allowlist guards. */
export const credentialMutations: ReadonlySet<string> = new Set([
  'signUp',
  'signIn',
  'signInWithIdToken',
  'refreshSession',
  'sendOtp',
  'verifyOtp',
  'sendMagicLink',
  'requestPasswordRecovery',
  'resendConfirmation',
  'verifyFactor',
]);

/** The root fields a mutation selects, through fragments; none for queries and subscriptions. */
function mutationRootFields(document: DocumentNode, operationName: string | null | undefined): string[] {
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'mutation') return [];
  const fragments = new Map<string, SelectionSetNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition.selectionSet);
  }
  const names: string[] = [];
  const visited = new Set<string>();
  const visit = (set: SelectionSetNode) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) names.push(selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet);
      else if (!visited.has(selection.name.value)) {
        visited.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) visit(fragment);
      }
    }
  };
  visit(operation.selectionSet);
  return names;
}

/**
 * Applies the origin allowlist to credential mutations, on HTTP, SSE and
 * graphql-ws alike: one check per operation, before any resolver runs, so a
 * refused operation does nothing. The origins service makes the decision.
 */
export function useCredentialOriginCheck(): Plugin<GraphQLContext> {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      if (!mutationRootFields(args.document, args.operationName).some((name) => credentialMutations.has(name))) return;
      const ctx = args.contextValue as GraphQLContext;
      try {
        await ctx.services.origins.assertRequestAllowed(ctx.requestOrigin);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        setResultAndStopExecution({ errors: [toGraphQLError(error)] });
      }
    },
  };
}
