import { defineConfig } from 'prisma/config';

// The CLI reads this file for generate/validate/format. Migrations run through
// src/db/migrate.ts (Prisma's WebAssembly schema engine) or, where the native
// engine can be downloaded, through `prisma migrate deploy` with the same folder.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? '' },
});
