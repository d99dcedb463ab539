import type { SqlDriverAdapter, SqlDriverAdapterFactory, SqlMigrationAwareDriverAdapterFactory, Transaction } from '@prisma/driver-adapter-utils';

/** Counts every SQL statement sent through a driver adapter (queries, writes, transaction statements). */
export interface StatementCounter {
  readonly count: number;
  add(): void;
}

export function createStatementCounter(): StatementCounter {
  let count = 0;
  return {
    get count() {
      return count;
    },
    add() {
      count += 1;
    },
  };
}

type ScriptRunner = (script: string) => Promise<unknown>;

function countQueries<T extends object>(target: T, counter: StatementCounter): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function') return value;
      if (prop === 'queryRaw' || prop === 'executeRaw') {
        return (...args: unknown[]) => {
          counter.add();
          return value.apply(obj, args);
        };
      }
      if (prop === 'startTransaction') {
        return async (...args: unknown[]) => countQueries((await value.apply(obj, args)) as Transaction, counter);
      }
      return value.bind(obj);
    },
  });
}

/**
 * Wraps a driver adapter factory so that:
 * - executeScript runs the whole script in one round trip and is awaited, so a
 *   failing migration is reported as failed (pglite-prisma-adapter 0.7 does not
 *   await it; @prisma/adapter-pg splits on ";" and breaks dollar-quoted bodies);
 * - every SQL statement is counted, for the query-budget assertions in tests.
 */
export function wrapAdapterFactory<F extends SqlMigrationAwareDriverAdapterFactory | SqlDriverAdapterFactory>(
  factory: F,
  runScript: ScriptRunner,
  counter: StatementCounter,
): F {
  const connect = async (): Promise<SqlDriverAdapter> => {
    const adapter = await factory.connect();
    const counted = countQueries(adapter, counter);
    return new Proxy(counted, {
      get(obj, prop, receiver) {
        if (prop === 'executeScript') {
          return async (script: string) => {
            counter.add();
            try {
              await runScript(script);
            } catch (error) {
              const convert = (adapter as unknown as { onError?: (e: unknown) => never }).onError;
              if (convert) convert.call(adapter, error);
              throw error;
            }
          };
        }
        return Reflect.get(obj, prop, receiver);
      },
    });
  };
  return new Proxy(factory, {
    get(obj, prop, receiver) {
      if (prop === 'connect') return connect;
      const value = Reflect.get(obj, prop, receiver);
      return typeof value === 'function' ? value.bind(obj) : value;
    },
  });
}
