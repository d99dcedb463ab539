import { defineConfig } from 'vitest/config';

// The suite runs once per database: always on PGlite, and also on the real
// PostgreSQL server named by TEST_DATABASE_URL when it is set (CI sets it).
const databases = ['pglite', ...(process.env.TEST_DATABASE_URL ? ['postgres'] : [])];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
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
