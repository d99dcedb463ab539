import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

// The suite runs once per database: always on PGlite, and also on the real
// PostgreSQL server named by TEST_DATABASE_URL when it is set (CI sets it).
const databases = ['pglite', ...(process.env.TEST_DATABASE_URL ? ['postgres'] : [])];

export default defineConfig({
  // graphql 16 ships CommonJS (main) and ESM (module) builds. Node loads the
  // CommonJS one; Vite must load the same copy, or `instanceof GraphQLError`
  // fails between code it transforms (Pothos) and code Node loads.
  resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }] },
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Most test time is spent waiting on PostgreSQL, sockets and timers: one more fork than vitest's default
    // (CPUs - 1) keeps a 2-CPU CI machine busy.
    maxWorkers: Math.max(2, availableParallelism()),
    projects: databases.map((name) => ({
      extends: true,
      test: {
        name,
        include: ['test/**/*.test.ts'],
        env: { IDGRAPH_TEST_DB: name },
      },
    })),
  },
});
