import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from '../helpers/database.js';
import { signUpUser } from '../helpers/realm.js';

// The base admin tenant always gets an owner at start-up: a new bootstrap
// account (password printed once), or an existing account with that address.

/** A database that outlives one app (restarts): a PGlite directory, or a fresh PostgreSQL database. */
async function lastingDatabase(): Promise<TestDatabase> {
  if (testDatabaseKind === 'postgres') return createTestDatabase();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idgraph-restart-'));
  return { url: `file:${dir}`, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
}

describe('bootstrap realm admin', () => {
  it('a first start creates the admin and prints its password once; later starts print nothing', async () => {
    const database = await lastingDatabase();
    try {
      const first = await startTestApp({ database });
      expect(first.printed.join('\n')).toMatch(/email:\s+admin@idgraph\.local\n\s+password:\s+\S{20,}/);
      await first.close();
      const second = await startTestApp({ database });
      expect(second.printed.join('\n')).not.toMatch(/password:/);
      await second.close();
    } finally {
      await database.drop();
    }
  });

  it('when the bootstrap address already has an account idgraph knows, that account becomes the owner; no password is made up', async () => {
    const database = await lastingDatabase();
    try {
      const first = await startTestApp({ database });
      const operator = await signUpUser(first);
      // An admin tenant without members (its owner left), and the operator's own address configured.
      await first.app.db.prisma.membership.deleteMany({ where: { tenant: { isBaseAdmin: true } } });
      await first.close();
      const second = await startTestApp({ database, env: { BOOTSTRAP_ADMIN_EMAIL: operator.email } });
      expect(second.printed.join('\n')).not.toMatch(/password:/);
      const base = await second.app.db.prisma.tenant.findFirstOrThrow({ where: { isBaseAdmin: true }, include: { memberships: { include: { role: true } } } });
      expect(base.memberships.map((m) => [m.userId, m.role.name])).toEqual([[operator.userId, 'owner']]);
      const viewer = await second.app.resolveViewer(`Bearer ${operator.accessToken}`);
      expect(await second.app.services.access.isRealmAdmin(viewer, base.realmId)).toBe(true);
      await second.close();
    } finally {
      await database.drop();
    }
  });
});
