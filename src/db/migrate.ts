import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import type { MigrationList, SchemaEngine as SchemaEngineType } from '@prisma/schema-engine-wasm';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { createStatementCounter, wrapAdapterFactory } from './adapters.js';
import { type Database, pgliteExtensions } from './client.js';

// Migrations run through Prisma's own schema engine compiled to WebAssembly, so
// they work offline on PGlite and PostgreSQL and write `_prisma_migrations`
// exactly as `prisma migrate deploy` does; both tools agree on the history.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const defaultPaths = {
  schema: path.join(root, 'prisma/schema.prisma'),
  migrations: path.join(root, 'prisma/migrations'),
};

// @types/node 20 does not declare the WebAssembly global; this is the one call used.
const wasmRuntime = (globalThis as unknown as {
  WebAssembly: {
    instantiate(bytes: Uint8Array, imports: Record<string, unknown>): Promise<{ instance: { exports: Record<string, unknown> } }>;
  };
}).WebAssembly;

type SchemaEngineClass = typeof SchemaEngineType;
let engineClass: Promise<SchemaEngineClass> | undefined;

/** Instantiates the engine's WebAssembly once per process (no --experimental-wasm-modules needed). */
function loadSchemaEngine(): Promise<SchemaEngineClass> {
  engineClass ??= (async () => {
    const require = createRequire(import.meta.url);
    const bgPath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const bg = (await import('@prisma/schema-engine-wasm/schema_engine_bg')) as Record<string, unknown> & {
      __wbg_set_wasm(exports: Record<string, unknown>): void;
      SchemaEngine: SchemaEngineClass;
    };
    const bytes = fs.readFileSync(path.join(path.dirname(bgPath), 'schema_engine_bg.wasm'));
    const { instance } = await wasmRuntime.instantiate(bytes, { './schema_engine_bg.js': bg });
    bg.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return bg.SchemaEngine;
  })();
  return engineClass;
}

const filters = { externalTables: [], externalEnums: [] };

export function readMigrationsList(migrationsDir = defaultPaths.migrations): MigrationList {
  const lockPath = path.join(migrationsDir, 'migration_lock.toml');
  const dirs = fs.existsSync(migrationsDir)
    ? fs
        .readdirSync(migrationsDir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && fs.existsSync(path.join(migrationsDir, d.name, 'migration.sql')))
        .map((d) => d.name)
        .sort()
    : [];
  return {
    baseDir: migrationsDir,
    lockfile: {
      path: 'migration_lock.toml',
      content: fs.existsSync(lockPath) ? fs.readFileSync(lockPath, 'utf8') : 'provider = "postgresql"\n',
    },
    shadowDbInitScript: '',
    migrationDirectories: dirs.map((name) => ({
      path: name,
      migrationFile: {
        path: 'migration.sql',
        content: { tag: 'ok', value: fs.readFileSync(path.join(migrationsDir, name, 'migration.sql'), 'utf8') },
      },
    })),
  } as MigrationList;
}

async function withEngine<T>(
  factory: SqlMigrationAwareDriverAdapterFactory,
  schemaText: string,
  fn: (engine: SchemaEngineType) => Promise<T>,
): Promise<T> {
  const SchemaEngine = await loadSchemaEngine();
  const engine = await SchemaEngine.new(
    { datamodels: [['schema.prisma', schemaText]] },
    () => {},
    bindMigrationAwareSqlAdapterFactory(factory),
  );
  try {
    return await fn(engine);
  } finally {
    // The engine keeps a timer alive for ~10 s unless freed.
    engine.free();
  }
}

/** A throwaway in-memory PGlite: the target of diffs and its own shadow database. */
async function withScratchPglite<T>(fn: (factory: SqlMigrationAwareDriverAdapterFactory) => Promise<T>): Promise<T> {
  const main = new PGlite({ extensions: pgliteExtensions });
  const shadows: PGlite[] = [];
  const counter = createStatementCounter();
  const base = new PrismaPGlite(main);
  // The adapter's own shadow database rejects multi-statement scripts; supply a fresh PGlite we control.
  (base as unknown as { connectToShadowDb: () => Promise<unknown> }).connectToShadowDb = async () => {
    const shadow = new PGlite({ extensions: pgliteExtensions });
    shadows.push(shadow);
    return wrapAdapterFactory(new PrismaPGlite(shadow), (s) => shadow.exec(s), counter).connect();
  };
  try {
    return await fn(wrapAdapterFactory(base, (s) => main.exec(s), counter));
  } finally {
    await Promise.all([main, ...shadows].map((p) => p.close()));
  }
}

export interface MigrateOptions {
  migrationsDir?: string;
  schemaPath?: string;
  /** Called with each migration name the engine applied. */
  onApplied?: (name: string) => void;
}

// Any fixed 64-bit key; distinct from the native engine's own lock key.
const MIGRATION_LOCK_KEY = 7_419_052_318_223;

/**
 * Applies pending migrations. Replicas starting at once serialise on a
 * PostgreSQL advisory lock, so each migration is applied exactly once.
 */
export function applyMigrations(db: Database, options: MigrateOptions = {}): Promise<string[]> {
  // Calls in one process queue here (a PGlite session's advisory lock is re-entrant);
  // other processes queue on the advisory lock.
  const previous = migrationQueue.get(db) ?? Promise.resolve();
  const run = previous.catch(() => {}).then(() => applyMigrationsLocked(db, options));
  migrationQueue.set(db, run);
  return run;
}

const migrationQueue = new WeakMap<Database, Promise<unknown>>();

async function applyMigrationsLocked(db: Database, options: MigrateOptions): Promise<string[]> {
  const schemaText = fs.readFileSync(options.schemaPath ?? defaultPaths.schema, 'utf8');
  const migrationsList = readMigrationsList(options.migrationsDir);
  return db.withSession(async (query) => {
    await query(`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
    try {
      const adapter = db.openMigrationAdapter();
      const { appliedMigrationNames } = await withEngine(adapter.factory, schemaText, (engine) =>
        engine.applyMigrations({ migrationsList, filters }),
      ).finally(() => adapter.release());
      for (const name of appliedMigrationNames) options.onApplied?.(name);
      return appliedMigrationNames;
    } finally {
      await query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`);
    }
  });
}

const EMPTY_MIGRATION = '-- This is an empty migration.';

/**
 * Drops the steps that create an extension some migration already creates.
 * Driven through a driver adapter, the WebAssembly engine is never given the
 * schema's preview features, so it describes the shadow database without its
 * extensions (schema.prisma's `extensions`, postgresqlExtensions) and would
 * otherwise ask to create them again on every diff.
 */
function withoutCreatedExtensions(sql: string, history: MigrationList): string {
  const applied = history.migrationDirectories.map((d) => (d.migrationFile.content.tag === 'ok' ? d.migrationFile.content.value : '')).join('\n');
  const rest = sql.replace(/-- CreateExtension\nCREATE EXTENSION IF NOT EXISTS "([^"]+)"[^;]*;\s*/g, (step, name: string) =>
    applied.includes(`CREATE EXTENSION IF NOT EXISTS "${name}"`) ? '' : step,
  );
  return rest.trim() === '' ? EMPTY_MIGRATION : rest;
}

/**
 * The SQL that takes the migrations folder to what schema.prisma describes.
 * Empty (`-- This is an empty migration.`) when they agree: that is the drift check.
 */
export async function diffSchemaAgainstMigrations(options: MigrateOptions = {}): Promise<{ sql: string; drift: boolean }> {
  const schemaPath = options.schemaPath ?? defaultPaths.schema;
  const schemaText = fs.readFileSync(schemaPath, 'utf8');
  const migrationsList = readMigrationsList(options.migrationsDir);
  return withScratchPglite((factory) =>
    withEngine(factory, schemaText, async (engine) => {
      const from =
        migrationsList.migrationDirectories.length === 0
          ? ({ tag: 'empty' } as const)
          : ({ tag: 'migrations', ...migrationsList } as const);
      const result = await engine.diff({
        from,
        to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content: schemaText }] },
        script: true,
        exitCode: true,
        filters,
      });
      const sql = withoutCreatedExtensions(result.stdout ?? '', migrationsList);
      return { sql, drift: result.exitCode !== 0 && sql !== EMPTY_MIGRATION };
    }),
  );
}

/** Writes prisma/migrations/<timestamp>_<name>/migration.sql when schema.prisma has changed. */
export async function createMigration(name: string, options: MigrateOptions & { now?: Date } = {}): Promise<string | null> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error('migration name must be lowercase letters, digits and underscores');
  const { sql, drift } = await diffSchemaAgainstMigrations(options);
  if (!drift) return null;
  const stamp = (options.now ?? new Date()).toISOString().replace(/\D/g, '').slice(0, 14);
  const dir = path.join(options.migrationsDir ?? defaultPaths.migrations, `${stamp}_${name}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'migration.sql'), sql.endsWith('\n') ? sql : `${sql}\n`);
  return dir;
}
