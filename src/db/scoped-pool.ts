import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';

/**
 * A lone statement in a caller's scope, sent in one round trip with the settings of that scope.
 *
 * Without it, a statement on a tenant-scoped table outside a transaction takes four round trips: BEGIN, set_config,
 * the statement, COMMIT. In the extended query protocol every message up to a Sync runs in one implicit
 * transaction, so set_config(..., true) executed just before the statement holds for that statement only, and
 * ends with it at the Sync (committed or rolled back). If set_config fails, the server skips the statement.
 */

const pending = new AsyncLocalStorage<string>();

/** Executed in front of each scoped statement; prepared once per connection when statements are named. */
const enterScope = { name: 'idgraph_enter_scope', text: "SELECT set_config('role', 'idgraph_app', true), set_config('idgraph.scope', $1, true)" };
const prepared = new WeakSet<pg.PoolClient>();

/** Runs `fn`, whose one pool query (a Prisma adapter's lone statement) is sent in `scope`. */
export function withStatementScope<T>(scope: string, fn: () => Promise<T>): Promise<T> {
  return pending.run(scope, fn);
}

/** Executes the scope's set_config, then the statement, before one Sync. */
class ScopedQuery extends pg.Query {
  #entered = false;
  readonly #named: boolean;

  constructor(
    private readonly scope: string,
    config: pg.QueryConfig,
    callback: (error: Error | null, result: pg.QueryResult) => void,
  ) {
    // Extended protocol even for a statement without parameters: the simple protocol would end the pipeline.
    super({ ...config, queryMode: 'extended', callback } as pg.QueryConfig);
    this.#named = Boolean(config.name);
  }

  // pg calls prepare() with the socket corked, after its own checks: everything goes out in one write.
  prepare(connection: ProtocolConnection) {
    // Named with the statement it goes with (DATABASE_STATEMENT_CACHE), unnamed otherwise: an unnamed Parse in front
    // of a named statement would be taken, by pg's bookkeeping, for that statement's.
    if (!this.#named) connection.parse({ text: enterScope.text });
    connection.bind({ statement: this.#named ? enterScope.name : '', values: [this.scope] });
    connection.execute({});
    (pg.Query.prototype as unknown as QueryInternals).prepare.call(this, connection);
  }

  // The set_config row and its completion are the guard's, not the statement's.
  handleDataRow(message: unknown) {
    if (this.#entered) (pg.Query.prototype as unknown as QueryInternals).handleDataRow.call(this, message);
  }

  handleCommandComplete(message: unknown, connection: ProtocolConnection) {
    if (!this.#entered) {
      this.#entered = true;
      return;
    }
    (pg.Query.prototype as unknown as QueryInternals).handleCommandComplete.call(this, message, connection);
  }
}

interface ProtocolConnection {
  parse(config: { text: string }): void;
  bind(config: { statement: string; values: unknown[] }): void;
  execute(config: object): void;
}

interface QueryInternals {
  prepare(this: ScopedQuery, connection: ProtocolConnection): void;
  handleDataRow(this: ScopedQuery, message: unknown): void;
  handleCommandComplete(this: ScopedQuery, message: unknown, connection: ProtocolConnection): void;
}

async function queryInScope(pool: pg.Pool, scope: string, config: pg.QueryConfig): Promise<pg.QueryResult> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A socket error fails the query below; without a listener it would also be thrown as an unhandled 'error' event.
  const onError = (error: Error) => (broken = error);
  client.on('error', onError);
  try {
    if (config.name && !prepared.has(client)) {
      // Outside a transaction block the setting ends with this statement.
      await client.query({ ...enterScope, values: ['none'] });
      prepared.add(client);
    }
    return await new Promise<pg.QueryResult>((resolve, reject) => {
      client.query(new ScopedQuery(scope, config, (error, result) => (error ? reject(error) : resolve(result))));
    });
  } catch (error) {
    // An error the server sent leaves the connection usable (the implicit transaction rolled back at the Sync);
    // any other (socket, protocol) does not, so the pool drops it.
    if (!(error instanceof pg.DatabaseError)) broken = error as Error;
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}

/**
 * The pool to give @prisma/adapter-pg: inside withStatementScope its query runs in the pending scope, in the
 * same round trip; everywhere else it is the pool itself.
 */
export function scopedPool(pool: pg.Pool): pg.Pool {
  return new Proxy(pool, {
    get(target, prop) {
      if (prop === 'query') {
        return (config: unknown, ...rest: unknown[]) => {
          // Read now, in the caller's context: pg-pool runs other callers' callbacks from inside this one's.
          const scope = pending.getStore();
          if (scope === undefined || rest.length > 0 || typeof config !== 'object' || config === null || 'submit' in config) {
            return (target.query as (...args: unknown[]) => unknown)(config, ...rest);
          }
          return queryInScope(target, scope, config as pg.QueryConfig);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
