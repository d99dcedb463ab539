import { createSourceEventStream, type DocumentNode, execute, type ExecutionArgs, type ExecutionResult, print } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { type SharedResultSource, sharedResults } from '../events/event-stream.js';

/**
 * Results a group keeps for its members still to be served: enough for members a few events apart. A member
 * further behind executes the event again; nothing is served stale.
 */
const KEPT_PER_GROUP = 64;

type Executed = ExecutionResult | Promise<ExecutionResult>;

/** The live subscriptions of one audience running one operation (document, operation name and variables). */
interface Group {
  members: number;
  results: Map<bigint, Executed>;
}

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof value === 'object' && value !== null && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';

/**
 * Runs a subscription's selection once per item for all the subscriptions of one audience running one operation,
 * when the source names its audience (sharedResults: the event streams name the scope and the caller's token).
 * Otherwise each item is executed for its subscriber alone, as graphql-js does. It replaces the executor's
 * subscribe, so the plugins listed after it (the tenant scope) still wrap it.
 */
export function useSharedSubscriptionResults(): Plugin {
  const groups = new Map<string, Group>();
  const printed = new WeakMap<DocumentNode, string>();

  function join(audience: string, args: ExecutionArgs): { group: Group; leave(): void } {
    let text = printed.get(args.document);
    if (text === undefined) printed.set(args.document, (text = print(args.document)));
    const key = `${audience}\u0000${text}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? null)}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { members: 0, results: new Map() }));
    group.members++;
    let left = false;
    const joined = group;
    return {
      group,
      leave() {
        if (left) return;
        left = true;
        if (--joined.members === 0) groups.delete(key);
      },
    };
  }

  function keep(group: Group, id: bigint, result: Executed) {
    if (group.results.size >= KEPT_PER_GROUP) group.results.delete(group.results.keys().next().value!);
    group.results.set(id, result);
    // Errors may be one subscriber's own (masked, or naming their cursor): never handed to another.
    const forgetIfFailed = (settled: ExecutionResult) => {
      if (settled.errors && group.results.get(id) === result) group.results.delete(id);
    };
    if (result instanceof Promise) result.then(forgetIfFailed, () => group.results.delete(id));
    else forgetIfFailed(result);
  }

  function mapSource(args: ExecutionArgs, source: AsyncIterable<unknown>): AsyncIterableIterator<ExecutionResult> {
    const shared = (source as Partial<SharedResultSource>)[sharedResults] ?? null;
    const membership = shared ? join(shared.audience, args) : null;
    const run = (item: unknown): Executed => {
      // Alone in its group, a subscription has no one to share with: nothing is kept.
      const id = membership && membership.group.members > 1 ? shared!.itemKey(item) : null;
      if (id === null) return execute({ ...args, rootValue: item });
      const kept = membership!.group.results.get(id);
      if (kept) return kept;
      const result = execute({ ...args, rootValue: item });
      keep(membership!.group, id, result);
      return result;
    };
    const iterator = source[Symbol.asyncIterator]();
    const done = { value: undefined, done: true } as const;
    const finish = () => {
      membership?.leave();
      return done;
    };
    return {
      next: async () => {
        const step = await iterator.next();
        return step.done ? finish() : { value: await run(step.value), done: false };
      },
      return: async () => {
        finish();
        await iterator.return?.();
        return done;
      },
      throw: async (error: unknown) => {
        finish();
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
