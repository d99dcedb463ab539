import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.js';
import { createStatementNamer } from '../../src/db/statement-names.js';
import { createPostgresDatabase, testDatabaseKind, type TestDatabase } from '../helpers/database.js';

describe('prepared statement names', () => {
  it('names a SQL text the same way every time, and different texts differently', () => {
    const name = createStatementNamer(10)!;
    const a = name({ sql: 'SELECT 1' });
    expect(a).toMatch(/^idg_[0-9a-f]{32}$/);
    expect(name({ sql: 'SELECT 1' })).toBe(a);
    expect(name({ sql: 'SELECT 2' })).not.toBe(a);
  });

  it('stops naming new texts past the limit (they run unnamed), and names none when the cache is 0', () => {
    const name = createStatementNamer(2)!;
    const first = name({ sql: 'SELECT 1' });
    name({ sql: 'SELECT 2' });
    expect(name({ sql: 'SELECT 3' })).toBeUndefined();
    expect(name({ sql: 'SELECT 1' })).toBe(first);
    expect(createStatementNamer(0)).toBeUndefined();
  });
});

describe.runIf(testDatabaseKind === 'postgres')('prepared statements on PostgreSQL', () => {
  const open: Array<{ db: Database; database: TestDatabase }> = [];
  afterAll(async () => {
    for (const { db, database } of open) {
      await db.close();
      await database.drop();
    }
  });

  async function connection(statementCache: number) {
    const database = await createPostgresDatabase();
    const db = await openDatabase({ driver: 'pg', url: database.url, poolSize: 1, connectTimeoutMs: 5000, statementCache });
    open.push({ db, database });
    const prepared = async () =>
      (await db.prisma.$queryRaw<Array<{ name: string }>>`SELECT name FROM pg_prepared_statements ORDER BY name`).map((r) => r.name);
    return { db, prepared };
  }

  it('prepares each statement once per connection and reuses it', async () => {
    const { db, prepared } = await connection(500);
    for (let i = 0; i < 5; i++) {
      const [row] = await db.prisma.$queryRaw<Array<{ n: number }>>`SELECT ${i}::int + 1 AS n`;
      expect(row!.n).toBe(i + 1);
    }
    const names = await prepared();
    // The loop's statement and the listing itself, each prepared once.
    expect(names).toHaveLength(2);
    expect(names.every((n) => n.startsWith('idg_'))).toBe(true);
    expect(await prepared()).toEqual(names);
  });

  it('prepares nothing when DATABASE_STATEMENT_CACHE is 0', async () => {
    const { db, prepared } = await connection(0);
    await db.prisma.$queryRaw`SELECT 1 AS n`;
    expect(await prepared()).toEqual([]);
  });
});
