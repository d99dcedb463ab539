import { createSourceEventStream, type DocumentNode, execute, type ExecutionArgs, type ExecutionResult, print } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { type SharedResultSource, sharedResultKey } from '../events/event-stream.js';

/** Results kept for subscribers still to be served; an evicted one is executed again, never served stale. */
const KEPT_RESULTS = 1024;

type Executed = ExecutionResult | Promise<ExecutionResult>;

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof value === 'object' && value !== null && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';

/**
 * Runs a subscription's selection once per item for every subscriber running the same operation with the same
 * variables, when the source says under which key an item's result may be shared (sharedResultKey; the event
 * streams key by event, scope and token). Otherwise each item is executed for its subscriber, as graphql-js does.
 * It replaces the executor's subscribe, so the plugins listed after it (the tenant scope) still wrap it.
 */
export function useSharedSubscriptionResults(): Plugin {
  const results = new Map<string, Executed>();
  const printed = new WeakMap<DocumentNode, string>();

  function keep(key: string, result: Executed) {
    if (results.size >= KEPT_RESULTS) results.delete(results.keys().next().value!);
    results.set(key, result);
    // Errors may be one subscriber's own (masked, or naming their cursor): never handed to another.
    const forgetIfFailed = (settled: ExecutionResult) => {
      if (settled.errors && results.get(key) === result) results.delete(key);
    };
    if (result instanceof Promise) result.then(forgetIfFailed, () => results.delete(key));
    else forgetIfFailed(result);
  }

  function operationKey(args: ExecutionArgs): string {
    let text = printed.get(args.document);
    if (text === undefined) printed.set(args.document, (text = print(args.document)));
    return `${text}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? null)}`;
  }

  function mapSource(args: ExecutionArgs, source: AsyncIterable<unknown>): AsyncIterableIterator<ExecutionResult> {
    const keyOf = (source as Partial<SharedResultSource>)[sharedResultKey];
    const operation = keyOf ? operationKey(args) : '';
    const run = (item: unknown): Executed => {
      const itemKey = keyOf ? keyOf.call(source, item) : null;
      if (itemKey === null) return execute({ ...args, rootValue: item });
      const key = `${itemKey}\u0000${operation}`;
      const kept = results.get(key);
      if (kept) return kept;
      const result = execute({ ...args, rootValue: item });
      keep(key, result);
      return result;
    };
    const iterator = source[Symbol.asyncIterator]();
    const done = { value: undefined, done: true } as const;
    return {
      next: async () => {
        const step = await iterator.next();
        return step.done ? done : { value: await run(step.value), done: false };
      },
      return: async () => {
        await iterator.return?.();
        return done;
      },
      throw: async (error: unknown) => {
        await (iterator.throw ? iterator.throw(error) : iterator.return?.());
        throw error;
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  return {
    onSubscribe({ subscribeFn, setSubscribeFn }) {
      setSubscribeFn(async (args) => {
        const source = await createSourceEventStream(args);
        if (isAsyncIterable(source)) return mapSource(args, source);
        // No resolver ran (the variables did not coerce, say): the executor's own answer, with its error codes.
        if (!source.errors?.some((error) => error.path)) return subscribeFn(args);
        return source;
      });
    },
  };
}
