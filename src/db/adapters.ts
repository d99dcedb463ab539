import type {
  SqlDriverAdapter,
  SqlDriverAdapterFactory,
  SqlMigrationAwareDriverAdapterFactory,
  SqlQuery,
  Transaction,
} from '@prisma/driver-adapter-utils';
import { AsyncLocalStorage } from 'node:async_hooks';
import { withStatementScope } from './scoped-pool.js';
import { currentTenantScope } from './tenant-scope.js';

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

const uncountedWork = new AsyncLocalStorage<true>();

/**
 * Runs `fn` with its statements left out of the statement counters: work the process does in the background
 * (the outbox relay's polling), which would otherwise land at random in the count of an operation under test.
 */
export function uncounted<T>(fn: () => Promise<T>): Promise<T> {
  return uncountedWork.run(true, fn);
}

type ScriptRunner = (script: string) => Promise<unknown>;

function countQueries<T extends object>(target: T, counter: StatementCounter): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function') return value;
      if (prop === 'queryRaw' || prop === 'executeRaw') {
        return (...args: unknown[]) => {
          if (!uncountedWork.getStore()) counter.add();
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

// The tables under row-level security (migrations 20261205143500_row_level_security, 20261205170000_webhook_endpoints).
const tenantScopedTable = /\b(tenants|memberships|invitations|api_keys|domains|otps|session_tenants|events|webhook_endpoints)\b/;

const enterScope = (scope: string): SqlQuery => ({
  sql: "SELECT set_config('role', 'idgraph_app', true), set_config('idgraph.scope', $1, true)",
  args: [scope],
  argTypes: [{ scalarType: 'string', arity: 'scalar' }],
});

/**
 * Runs what a caller's scope sends as the role idgraph_app with `idgraph.scope` set, both local to a
 * transaction so a pooled connection keeps neither. A transaction gets them right after BEGIN; a lone
 * statement on a tenant-scoped table gets them in the same round trip when the driver can (scopedPool:
 * @prisma/adapter-pg), else is put in a transaction of its own. The 'system' scope sends its statements unchanged.
 */
function applyTenantScope(adapter: SqlDriverAdapter, scopeInSameRoundTrip: boolean): SqlDriverAdapter {
  // Adapters whose transactions are not phantom expect the engine to send COMMIT or ROLLBACK itself.
  const endTransaction = async (tx: Transaction, end: 'COMMIT' | 'ROLLBACK') => {
    if (!tx.options.usePhantomQuery) await tx.executeRaw({ sql: end, args: [], argTypes: [] });
    await (end === 'COMMIT' ? tx.commit() : tx.rollback());
  };
  const startTransaction = async (scope: string, ...args: Parameters<SqlDriverAdapter['startTransaction']>) => {
    const tx = await adapter.startTransaction(...args);
    if (scope === 'system') return tx;
    try {
      await tx.executeRaw(enterScope(scope));
    } catch (error) {
      await endTransaction(tx, 'ROLLBACK').catch(() => {});
      throw error;
    }
    return tx;
  };
  const alone = async <R>(query: SqlQuery, run: (q: Pick<SqlDriverAdapter, 'queryRaw' | 'executeRaw'>) => Promise<R>): Promise<R> => {
    const scope = currentTenantScope();
    if (scope === 'system' || !tenantScopedTable.test(query.sql)) return run(adapter);
    if (scopeInSameRoundTrip) return withStatementScope(scope, () => run(adapter));
    const tx = await startTransaction(scope);
    let result: R;
    try {
      result = await run(tx);
    } catch (error) {
      await endTransaction(tx, 'ROLLBACK').catch(() => {});
      throw error;
    }
    await endTransaction(tx, 'COMMIT');
    return result;
  };
  return new Proxy(adapter, {
    get(obj, prop, receiver) {
      if (prop === 'queryRaw') return (query: SqlQuery) => alone(query, (q) => q.queryRaw(query));
      if (prop === 'executeRaw') return (query: SqlQuery) => alone(query, (q) => q.executeRaw(query));
      if (prop === 'startTransaction') {
        return (...args: Parameters<SqlDriverAdapter['startTransaction']>) => startTransaction(currentTenantScope(), ...args);
      }
      const value = Reflect.get(obj, prop, receiver);
      return typeof value === 'function' ? value.bind(obj) : value;
    },
  });
}

/**
 * Wraps a driver adapter factory so that:
 * - executeScript runs the whole script in one round trip and is awaited, so a
 *   failing migration is reported as failed (pglite-prisma-adapter 0.7 does not
 *   await it; @prisma/adapter-pg splits on ";" and breaks dollar-quoted bodies);
 * - every SQL statement is counted, for the query-budget assertions in tests;
 * - statements run in the current tenant scope (applyTenantScope; `scopeInSameRoundTrip` when the factory's
 *   pool is a scopedPool).
 */
export function wrapAdapterFactory<F extends SqlMigrationAwareDriverAdapterFactory | SqlDriverAdapterFactory>(
  factory: F,
  runScript: ScriptRunner,
  counter: StatementCounter,
  options: { scopeInSameRoundTrip?: boolean } = {},
): F {
  const connect = async (): Promise<SqlDriverAdapter> => {
    const adapter = await factory.connect();
    // The guard's own statements (set_config; BEGIN and COMMIT around a lone statement) are not counted: the
    // counter measures what the services send, bench:row-level-security what the guard adds.
    const counted = countQueries(applyTenantScope(adapter, options.scopeInSameRoundTrip ?? false), counter);
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
