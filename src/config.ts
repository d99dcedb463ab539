import path from 'node:path';
import { z } from 'zod';

// The only module that reads process.env. Every variable idgraph understands is
// declared here; README.md ("Configuration") documents the same list.

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const bool = z.stringbool({ truthy: ['true', '1', 'yes', 'on'], falsy: ['false', '0', 'no', 'off'] });

const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    HOST: z.string().min(1).default('0.0.0.0'),
    PORT: port.default(4000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    DATA_DIR: z.string().min(1).default('./.data'),
    DATABASE_URL: z
      .string()
      .min(1)
      .refine((url) => /^(postgres(ql)?:\/\/|memory:\/\/|file:)/.test(url), {
        message: 'must start with postgres://, postgresql://, memory:// or file:',
      })
      .optional(),
    DATABASE_DRIVER: z.enum(['pglite', 'pg', 'neon']).optional(),
    DATABASE_POOL_SIZE: positiveInt.max(1000).default(10),
    DATABASE_CONNECT_TIMEOUT_MS: positiveInt.default(5000),
    MIGRATE_ON_START: bool.default(true),
    DEFAULT_REALM_SLUG: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes, at most 63 characters')
      .default('default'),
    DEFAULT_REALM_NAME: z.string().min(1).max(200).default('Default realm'),
    BODY_LIMIT_BYTES: positiveInt.default(1024 * 1024),
    GRAPHQL_MAX_DEPTH: positiveInt.max(100).default(12),
    GRAPHQL_MAX_COST: positiveInt.default(5000),
    GRAPHQL_MAX_ALIASES: positiveInt.default(30),
    GRAPHQL_MAX_TOKENS: positiveInt.default(5000),
    GRAPHIQL: bool.optional(),
    SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
  })
  .superRefine((env, ctx) => {
    const url = env.DATABASE_URL;
    const isPostgresUrl = url !== undefined && /^postgres(ql)?:\/\//.test(url);
    if ((env.DATABASE_DRIVER === 'pg' || env.DATABASE_DRIVER === 'neon') && !isPostgresUrl) {
      ctx.addIssue({
        code: 'custom',
        path: ['DATABASE_URL'],
        message: `must be a postgres:// URL when DATABASE_DRIVER=${env.DATABASE_DRIVER}`,
      });
    }
    if (env.DATABASE_DRIVER === 'pglite' && isPostgresUrl) {
      ctx.addIssue({
        code: 'custom',
        path: ['DATABASE_DRIVER'],
        message: 'pglite cannot open a postgres:// URL; use pg or neon, or unset DATABASE_URL',
      });
    }
  });

export type DatabaseConfig =
  | { driver: 'pglite'; dataDir: string | null /* null = in memory */ }
  | { driver: 'pg' | 'neon'; url: string; poolSize: number; connectTimeoutMs: number };

export interface Config {
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  dataDir: string;
  database: DatabaseConfig;
  migrateOnStart: boolean;
  defaultRealm: { slug: string; displayName: string };
  http: { bodyLimitBytes: number; shutdownTimeoutMs: number };
  graphql: { maxDepth: number; maxCost: number; maxAliases: number; maxTokens: number; graphiql: boolean };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function databaseConfig(env: z.infer<typeof envSchema>): DatabaseConfig {
  const url = env.DATABASE_URL;
  const driver = env.DATABASE_DRIVER ?? (url && /^postgres(ql)?:\/\//.test(url) ? 'pg' : 'pglite');
  if (driver === 'pglite') {
    if (url === 'memory://') return { driver, dataDir: null };
    if (url?.startsWith('file:')) return { driver, dataDir: path.resolve(url.slice('file:'.length)) };
    return { driver, dataDir: path.resolve(env.DATA_DIR, 'pglite') };
  }
  return {
    driver,
    url: url as string,
    poolSize: env.DATABASE_POOL_SIZE,
    connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
  };
}

/** Parses the environment. Throws ConfigError naming every invalid variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  // An empty variable means "not set", as in most twelve-factor tools.
  const present = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join('.') || '(environment)';
        const value = present[name];
        const shown = value === undefined ? '' : ` (got ${JSON.stringify(redactValue(name, value))})`;
        return `${name}: ${issue.message}${shown}`;
      }),
    );
  }
  const env = parsed.data;
  return {
    env: env.NODE_ENV,
    host: env.HOST,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    dataDir: path.resolve(env.DATA_DIR),
    database: databaseConfig(env),
    migrateOnStart: env.MIGRATE_ON_START,
    defaultRealm: { slug: env.DEFAULT_REALM_SLUG, displayName: env.DEFAULT_REALM_NAME },
    http: { bodyLimitBytes: env.BODY_LIMIT_BYTES, shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS },
    graphql: {
      maxDepth: env.GRAPHQL_MAX_DEPTH,
      maxCost: env.GRAPHQL_MAX_COST,
      maxAliases: env.GRAPHQL_MAX_ALIASES,
      maxTokens: env.GRAPHQL_MAX_TOKENS,
      graphiql: env.GRAPHIQL ?? env.NODE_ENV !== 'production',
    },
  };
}

/** Connection strings carry passwords: never echo them back in an error. */
function redactValue(name: string, value: string): string {
  if (name === 'DATABASE_URL') return value.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
  if (/SECRET|KEY|PASSWORD|TOKEN/.test(name)) return '***';
  return value;
}

/** Database URL with its password hidden, for logs and health output. */
export function describeDatabase(db: DatabaseConfig): string {
  if (db.driver === 'pglite') return db.dataDir ? `pglite:${db.dataDir}` : 'pglite:memory';
  return `${db.driver}:${redactValue('DATABASE_URL', db.url)}`;
}
