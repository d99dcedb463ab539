import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeDatabase, loadConfig } from '../src/config.js';
import { problemsOf } from './helpers/config.js';


describe('config', () => {
  it('needs no variable at all: PGlite under ./.data, port 4000', () => {
    const config = loadConfig({});
    expect(config.port).toBe(4000);
    expect(config.database).toEqual({ driver: 'pglite', dataDir: path.resolve('.data/pglite') });
    expect(config.migrateOnStart).toBe(true);
    expect(config.graphql.graphiql).toBe(true);
  });

  it('picks the adapter from DATABASE_URL and DATABASE_DRIVER', () => {
    expect(loadConfig({ DATABASE_URL: 'memory://' }).database).toEqual({ driver: 'pglite', dataDir: null });
    expect(loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/x', DATABASE_POOL_SIZE: '7' }).database).toMatchObject({
      driver: 'pg',
      poolSize: 7,
    });
    expect(loadConfig({ DATABASE_URL: 'postgresql://u:p@db/x', DATABASE_DRIVER: 'neon' }).database.driver).toBe('neon');
    expect(loadConfig({ DATA_DIR: '/tmp/idg' }).database).toEqual({ driver: 'pglite', dataDir: '/tmp/idg/pglite' });
  });

  it('names every bad variable with the reason, in one error', () => {
    const problems = problemsOf({ PORT: 'eighty', LOG_LEVEL: 'loud', MIGRATE_ON_START: 'maybe', DATABASE_URL: 'mysql://x' });
    expect(problems).toHaveLength(4);
    expect(problems.find((p) => p.startsWith('PORT:'))).toContain('"eighty"');
    expect(problems.find((p) => p.startsWith('LOG_LEVEL:'))).toBeDefined();
    expect(problems.find((p) => p.startsWith('MIGRATE_ON_START:'))).toBeDefined();
    expect(problems.find((p) => p.startsWith('DATABASE_URL:'))).toContain('must start with postgres://');
  });

  it('refuses driver and URL combinations that cannot work', () => {
    expect(problemsOf({ DATABASE_DRIVER: 'pg' })[0]).toMatch(/^DATABASE_URL: must be a postgres:\/\/ URL when DATABASE_DRIVER=pg/);
    expect(problemsOf({ DATABASE_DRIVER: 'pglite', DATABASE_URL: 'postgres://a@b/c' })[0]).toMatch(/^DATABASE_DRIVER:/);
    expect(problemsOf({ PORT: '70000' })[0]).toMatch(/^PORT:/);
  });

  it('AUTH_SWITCH_TENANT_CLAIMS: a list of claim names, never one idgraph or GoTrue sets', () => {
    expect(loadConfig({ AUTH_SWITCH_TENANT_CLAIMS: 'department, plan' }).auth.switchTenantClaims).toEqual(['department', 'plan']);
    expect(loadConfig({}).auth.switchTenantClaims).toEqual([]);
    expect(() => loadConfig({ AUTH_SWITCH_TENANT_CLAIMS: 'department,role' })).toThrow(/AUTH_SWITCH_TENANT_CLAIMS.*claim idgraph sets itself/s);
    expect(() => loadConfig({ AUTH_SWITCH_TENANT_CLAIMS: 'Bad-Name' })).toThrow(/AUTH_SWITCH_TENANT_CLAIMS/);
  });

  it('CLEANUP_INTERVAL_SECONDS: whole seconds from 0 (off) to a day', () => {
    expect(loadConfig({}).cleanupIntervalMs).toBe(60_000);
    expect(loadConfig({ CLEANUP_INTERVAL_SECONDS: '0' }).cleanupIntervalMs).toBe(0);
    for (const bad of ['-1', '1.5', '86401', 'soon']) expect(problemsOf({ CLEANUP_INTERVAL_SECONDS: bad })[0]).toMatch(/^CLEANUP_INTERVAL_SECONDS:/);
  });

  it('REDIS_URL: a redis:// or rediss:// URL, from the environment or a file; unset keeps everything in the database', () => {
    expect(loadConfig({}).redisUrl).toBeNull();
    expect(loadConfig({ REDIS_URL: 'rediss://:pw@cache:6380/3' }).redisUrl).toBe('rediss://:pw@cache:6380/3');
    const problems = problemsOf({ REDIS_URL: 'http://:hunter2@cache:6379' });
    expect(problems[0]).toMatch(/^REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('never echoes a database password', () => {
    const problems = problemsOf({ DATABASE_URL: 'postgres://admin:hunter2@db/x', DATABASE_DRIVER: 'pglite' });
    expect(problems.join('\n')).not.toContain('hunter2');
    expect(describeDatabase(loadConfig({ DATABASE_URL: 'postgres://admin:hunter2@db/x' }).database)).toBe(
      'pg:postgres://admin:***@db/x',
    );
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' }).port).toBe(4000);
  });
});
