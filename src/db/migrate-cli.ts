import { ConfigError, describeDatabase, loadConfig } from '../config.js';
import { openDatabase } from './client.js';
import { applyMigrations, createMigration, diffSchemaAgainstMigrations } from './migrate.js';
import { DataDirLockedError } from './data-dir-lock.js';

// npm run db:migrate            apply pending migrations to DATABASE_URL (or the PGlite default)
// npm run db:migrate:create -- <name>   write the next migration from prisma/schema.prisma
// npm run db:drift              exit 1 when schema.prisma and the migrations disagree

async function main(command: string | undefined, arg: string | undefined): Promise<number> {
  switch (command) {
    case 'deploy': {
      const config = loadConfig();
      const db = await openDatabase(config.database);
      try {
        console.log(`Applying migrations to ${describeDatabase(config.database)}`);
        const applied = await applyMigrations(db, { onApplied: (name) => console.log(`  applied ${name}`) });
        console.log(applied.length ? `${applied.length} migration(s) applied.` : 'Already up to date.');
      } finally {
        await db.close();
      }
      return 0;
    }
    case 'create': {
      if (!arg) throw new Error('usage: npm run db:migrate:create -- <name>');
      const dir = await createMigration(arg);
      console.log(dir ? `Created ${dir}` : 'schema.prisma matches the migrations: nothing to create.');
      return 0;
    }
    case 'drift': {
      const { sql, drift } = await diffSchemaAgainstMigrations();
      if (drift) {
        console.error('schema.prisma and prisma/migrations disagree. Missing SQL:\n' + sql);
        return 1;
      }
      console.log('No drift: schema.prisma matches prisma/migrations.');
      return 0;
    }
    default:
      throw new Error(`unknown command ${command ?? '(none)'}; use deploy, create or drift`);
  }
}

main(process.argv[2], process.argv[3]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof DataDirLockedError) console.error(`${error.code}: ${error.message}`);
    else console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  },
);
