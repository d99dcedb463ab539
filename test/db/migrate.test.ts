import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type Database, openDatabase } from '../../src/db/client.js';
import { applyMigrations, defaultPaths, diffSchemaAgainstMigrations, readMigrationsList } from '../../src/db/migrate.js';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from '../helpers/database.js';

const opened: Array<{ db: Database; database: TestDatabase }> = [];

async function freshDatabase(): Promise<Database> {
  const database = await createTestDatabase();
  const db = await openDatabase(loadConfig({ DATABASE_URL: database.url }).database);
  opened.push({ db, database });
  return db;
}

/**
 * A second client on the same database, as a second replica would have. PGlite
 * opens a directory once per process, so there the "replica" shares the client.
 */
async function secondClient(): Promise<Database> {
  const first = opened.at(-1)!;
  if (testDatabaseKind === 'pglite') return first.db;
  const db = await openDatabase(loadConfig({ DATABASE_URL: first.database.url }).database);
  opened.push({ db, database: { url: first.database.url, drop: async () => {} } });
  return db;
}

afterEach(async () => {
  for (const { db, database } of opened.splice(0).reverse()) {
    await db.close();
    await database.drop();
  }
});

/** A copy of prisma/migrations with one more migration at the end. */
function migrationsWithExtra(name: string, sql: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idgraph-migrations-'));
  fs.cpSync(defaultPaths.migrations, dir, { recursive: true });
  fs.mkdirSync(path.join(dir, name));
  fs.writeFileSync(path.join(dir, name, 'migration.sql'), sql);
  return dir;
}

const migrationNames = readMigrationsList().migrationDirectories.map((d) => d.path);

describe('migrations', () => {
  it('schema.prisma and prisma/migrations do not drift', async () => {
    const { sql, drift } = await diffSchemaAgainstMigrations();
    expect(sql.trim()).toBe('-- This is an empty migration.');
    expect(drift).toBe(false);
  });

  it('the drift check does fail when schema.prisma gains a model the migrations lack', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idgraph-drift-'));
    const schemaPath = path.join(dir, 'schema.prisma');
    fs.writeFileSync(schemaPath, `${fs.readFileSync(defaultPaths.schema, 'utf8')}\nmodel Extra {\n  id Int @id\n}\n`);
    const { sql, drift } = await diffSchemaAgainstMigrations({ schemaPath });
    expect(drift).toBe(true);
    expect(sql).toContain('CREATE TABLE "Extra"');
  });

  it('an extension schema.prisma declares is drift until a migration creates it, and not after', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idgraph-drift-'));
    const schemaPath = path.join(dir, 'schema.prisma');
    const schema = fs.readFileSync(defaultPaths.schema, 'utf8').replace(/extensions = \[(\w+)\]/, 'extensions = [$1, plpgsql]');
    fs.writeFileSync(schemaPath, schema);
    const missing = await diffSchemaAgainstMigrations({ schemaPath });
    expect(missing.drift).toBe(true);
    expect(missing.sql.trim()).toBe('-- CreateExtension\nCREATE EXTENSION IF NOT EXISTS "plpgsql";');
    const created = migrationsWithExtra('99999999999999_plpgsql', 'CREATE EXTENSION IF NOT EXISTS "plpgsql";\n');
    expect(await diffSchemaAgainstMigrations({ schemaPath, migrationsDir: created })).toEqual({ sql: '-- This is an empty migration.', drift: false });
  });

  it('applies every migration once and records it as prisma migrate deploy does', async () => {
    const db = await freshDatabase();
    expect(await applyMigrations(db)).toEqual(migrationNames);
    expect(await applyMigrations(db)).toEqual([]);
    const rows = await db.prisma.$queryRaw<Array<{ migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null }>>`
      SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY migration_name`;
    expect(rows.map((r) => r.migration_name)).toEqual(migrationNames);
    for (const row of rows) {
      const sql = fs.readFileSync(path.join(defaultPaths.migrations, row.migration_name, 'migration.sql'));
      const { createHash } = await import('node:crypto');
      expect(row.checksum).toBe(createHash('sha256').update(sql).digest('hex'));
      expect(row.finished_at).not.toBeNull();
      expect(row.rolled_back_at).toBeNull();
    }
  });

  it('two replicas migrating at once apply each migration exactly once', async () => {
    const first = await freshDatabase();
    const second = await secondClient();
    const [a, b] = await Promise.all([applyMigrations(first), applyMigrations(second)]);
    expect([...a, ...b].sort()).toEqual(migrationNames);
    const [{ count }] = await first.prisma.$queryRaw<[{ count: bigint }]>`SELECT count(*) FROM _prisma_migrations`;
    expect(Number(count)).toBe(migrationNames.length);
  });

  it('records a failing migration as failed and leaves the history consistent', async () => {
    const db = await freshDatabase();
    const dir = migrationsWithExtra(
      '29990101000000_broken',
      'CREATE TABLE broken_ok (id int);\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\nSELECT * FROM no_such_table;\n',
    );
    await expect(applyMigrations(db, { migrationsDir: dir })).rejects.toThrow(/no_such_table/);
    const rows = await db.prisma.$queryRaw<Array<{ migration_name: string; finished_at: Date | null; logs: string | null }>>`
      SELECT migration_name, finished_at, logs FROM _prisma_migrations ORDER BY migration_name`;
    const broken = rows.find((r) => r.migration_name === '29990101000000_broken');
    expect(broken?.finished_at).toBeNull();
    expect(broken?.logs).toContain('no_such_table');
    // A later deploy refuses to go on past a failed migration rather than skipping it.
    await expect(applyMigrations(db, { migrationsDir: dir })).rejects.toThrow(/29990101000000_broken/);
  });

  it('runs dollar-quoted bodies in one piece', async () => {
    const db = await freshDatabase();
    await applyMigrations(db);
    const dir = migrationsWithExtra(
      '29990101000000_function',
      'CREATE FUNCTION idgraph_answer() RETURNS int AS $$ BEGIN RETURN 42; END; $$ LANGUAGE plpgsql;\n',
    );
    expect(await applyMigrations(db, { migrationsDir: dir })).toEqual(['29990101000000_function']);
    const [{ answer }] = await db.prisma.$queryRaw<[{ answer: number }]>`SELECT idgraph_answer() AS answer`;
    expect(answer).toBe(42);
  });
});
