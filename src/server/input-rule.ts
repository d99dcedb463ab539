import { type ASTNode, type DocumentNode, Kind, visit } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { AppError, toGraphQLError } from '../errors.js';
import { type InputProblem, inputBounds, jsonProblem, textProblem } from '../services/input.js';

// Input objects wrap a JSON value a few levels deep; the JSON scalar itself then holds it to inputBounds.jsonDepth.
const variableDepth = inputBounds.jsonDepth + 6;

/** The first string literal of a document that breaks the input rule, named by the arguments and fields around it. */
function literalProblem(document: DocumentNode): InputProblem | undefined {
  let found: InputProblem | undefined;
  visit(document, {
    StringValue(node, _key, parent, _path, ancestors) {
      const message = textProblem(node.value, { multiline: true });
      if (!message) return undefined;
      const names = [...ancestors, parent]
        .filter((a): a is ASTNode => a !== undefined && !Array.isArray(a))
        .flatMap((a) => (a.kind === Kind.ARGUMENT || a.kind === Kind.OBJECT_FIELD ? [a.name.value] : []));
      found = { path: names.join('.'), message };
      return false;
    },
  });
  return found;
}

/**
 * The input rule for every GraphQL operation, before any resolver runs: each
 * string in the variables and in the document's literals (free text: tab and
 * line breaks allowed; fields may be stricter). A string PostgreSQL cannot
 * store would otherwise fail deep in a write as a masked 500.
 */
export function useInputRule(): Plugin {
  // Yoga caches parsed documents, so a document's literals are checked once.
  const checkedLiterals = new WeakMap<DocumentNode, InputProblem | null>();
  const problemIn = (document: DocumentNode, variables: unknown): InputProblem | undefined => {
    let literal = checkedLiterals.get(document);
    if (literal === undefined) {
      literal = literalProblem(document) ?? null;
      checkedLiterals.set(document, literal);
    }
    return literal ?? (variables == null ? undefined : jsonProblem(variables, variableDepth));
  };
  const refuse = ({ path, message }: InputProblem) => ({
    errors: [toGraphQLError(new AppError('bad_request', `${path || 'input'}: ${message}`, path ? { field: path } : {}))],
  });
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const problem = problemIn(args.document, args.variableValues);
      if (problem) setResultAndStopExecution(refuse(problem));
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const problem = problemIn(args.document, args.variableValues);
      if (problem) setResultAndStopExecution(refuse(problem));
    },
  };
}
