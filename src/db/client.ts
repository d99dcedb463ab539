import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaNeon } from '@prisma/adapter-neon';
import { neonConfig, Pool as NeonPool } from '@neondatabase/serverless';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { WebSocket } from 'ws';
import type { DatabaseConfig } from '../config.js';
import { PrismaClient } from '../generated/prisma/client.js';
import { createStatementCounter, type StatementCounter, wrapAdapterFactory } from './adapters.js';
import { scopedPool } from './scoped-pool.js';
import { type DataDirLock, lockDataDir } from './data-dir-lock.js';
import { createStatementNamer } from './statement-names.js';
import { type Listening, listenOnPostgres, type NotificationHandler } from './listener.js';

export { PrismaClient };
export type { Prisma } from '../generated/prisma/client.js';

export interface Database {
  readonly prisma: PrismaClient;
  readonly driver: DatabaseConfig['driver'];
  /**
   * An adapter factory for Prisma's schema engine, and how to release it. The
   * engine takes an advisory lock it only gives up when its connection closes,
   * so on PostgreSQL it gets a pool of its own that is ended after migrating.
   */
  openMigrationAdapter(): { factory: SqlMigrationAwareDriverAdapterFactory; release(): Promise<void> };
  /** SQL statements sent so far; tests compare it before and after an operation. */
  readonly statements: StatementCounter;
  /** Runs `fn` on one dedicated connection (advisory locks are per connection). */
  withSession<T>(fn: (query: (sql: string) => Promise<unknown>) => Promise<T>): Promise<T>;
  /** Cheap round trip used by readiness: rejects when the database does not answer. */
  ping(timeoutMs?: number): Promise<void>;
  /**
   * LISTEN on `channel`: PGlite's own listen, or a dedicated PostgreSQL connection that reconnects by itself
   * (the handler then gets null: notifications may have been missed while it was down).
   */
  listen(channel: string, onNotify: NotificationHandler, onError?: (error: Error) => void): Promise<Listening>;
  close(): Promise<void>;
}

/** The part of pg.Pool (and Neon's compatible Pool) idgraph uses directly. */
interface SqlPool {
  query(sql: string): Promise<unknown>;
  connect(): Promise<{ query(sql: string): Promise<unknown>; release(): void }>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** The PostgreSQL extensions the migrations create (schema.prisma's datasource `extensions`); PGlite loads them up front. */
export const pgliteExtensions = { pg_trgm };

/** Opens PGlite; a data directory is first locked against every other process (and a second open in this one). */
async function openPglite(dataDir: string | null): Promise<{ pglite: PGlite; lock: DataDirLock | null }> {
  const lock = dataDir ? lockDataDir(dataDir) : null;
  try {
    const pglite = new PGlite({ dataDir: dataDir ?? undefined, extensions: pgliteExtensions });
    await pglite.waitReady;
    return { pglite, lock };
  } catch (error) {
    lock?.release();
    throw error;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Errors without a code frame of the calling line: Prisma would otherwise capture a stack trace on every query to
// locate it, and unexpected errors are masked for clients and logged with their message and stack anyway.
const errorFormat = 'minimal';

/** Opens the database the config names, with the matching Prisma driver adapter. */
export async function openDatabase(config: DatabaseConfig): Promise<Database> {
  const statements = createStatementCounter();

  if (config.driver === 'pglite') {
    const { pglite, lock } = await openPglite(config.dataDir);
    const adapterFactory = wrapAdapterFactory(new PrismaPGlite(pglite), (script) => pglite.exec(script), statements);
    const prisma = new PrismaClient({ adapter: adapterFactory, errorFormat });
    return {
      prisma,
      driver: 'pglite',
      openMigrationAdapter: () => ({ factory: adapterFactory, release: async () => {} }),
      statements,
      // PGlite is one connection already.
      withSession: (fn) => fn((sql) => pglite.query(sql)),
      ping: async (timeoutMs = 2000) => {
        await withTimeout(pglite.query('SELECT 1'), timeoutMs, 'PGlite');
      },
      listen: async (channel, onNotify) => {
        const unlisten = await pglite.listen(channel, (payload) => onNotify(payload));
        return { close: () => unlisten().catch(() => {}) };
      },
      close: async () => {
        await prisma.$disconnect();
        await pglite.close();
        lock?.release();
      },
    };
  }

  const poolOptions = {
    connectionString: config.url,
    max: config.poolSize,
    connectionTimeoutMillis: config.connectTimeoutMs,
  };
  const neon = config.driver === 'neon';
  if (neon) neonConfig.webSocketConstructor = WebSocket;
  /** A pool and the Prisma adapter factory over it. */
  const connect = (max: number, statementCache: number) => {
    const options = { ...poolOptions, max };
    // Neon's Pool speaks the same protocol over WebSockets; Prisma's Neon adapter builds its own from the options.
    const pool = (neon ? new NeonPool(options) : new pg.Pool(options)) as unknown as SqlPool;
    pool.on('error', () => {
      // An idle client died (server restart, network): the pool replaces it; readiness reports the outage.
    });
    const base = neon
      ? new PrismaNeon(options)
      : new PrismaPg(scopedPool(pool as unknown as pg.Pool), { statementNameGenerator: createStatementNamer(statementCache) });
    const factory = wrapAdapterFactory(
      base as unknown as SqlMigrationAwareDriverAdapterFactory,
      (script) => pool.query(script),
      statements,
      { scopeInSameRoundTrip: !neon },
    );
    return { pool, factory };
  };
  const { pool, factory: adapterFactory } = connect(config.poolSize, config.statementCache);
  const prisma = new PrismaClient({ adapter: adapterFactory, errorFormat });
  return {
    prisma,
    driver: config.driver,
    openMigrationAdapter: () => {
      // Migrations run once: nothing to gain from keeping their statements prepared.
      const migration = connect(1, 0);
      return { factory: migration.factory, release: () => migration.pool.end() };
    },
    statements,
    withSession: async (fn) => {
      const client = await pool.connect();
      try {
        return await fn((sql) => client.query(sql));
      } finally {
        client.release();
      }
    },
    ping: async (timeoutMs = 2000) => {
      await withTimeout(pool.query('SELECT 1'), timeoutMs, 'PostgreSQL');
    },
    listen: async (channel, onNotify, onError) =>
      listenOnPostgres({ url: config.url, channel, onNotify, onError, connectTimeoutMs: config.connectTimeoutMs }),
    close: async () => {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}
