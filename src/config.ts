import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Claims GoTrue or idgraph put in access tokens: no caller may set them. */
const reservedClaims = new Set(
  'iss sub aud exp iat nbf jti email phone app_metadata user_metadata role aal amr session_id is_anonymous tenant_id tenant_role mfa_at api_key_id scp'.split(' '),
);
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
    DATABASE_STATEMENT_CACHE: z.coerce.number().int().min(0).max(100_000).default(500),
    REDIS_URL: z
      .url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' })
      .optional(),
    MIGRATE_ON_START: bool.default(true),
    ROW_LEVEL_SECURITY: bool.default(true),
    DEFAULT_REALM_SLUG: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes, at most 63 characters')
      .default('default'),
    DEFAULT_REALM_NAME: z.string().min(1).max(200).default('Default realm'),
    BOOTSTRAP_ADMIN_EMAIL: z.email('must be an email address').default('admin@idgraph.local'),
    BODY_LIMIT_BYTES: positiveInt.default(1024 * 1024),
    GRAPHQL_MAX_DEPTH: positiveInt.max(100).default(12),
    GRAPHQL_MAX_COST: positiveInt.default(20_000),
    GRAPHQL_MAX_ALIASES: positiveInt.default(30),
    GRAPHQL_MAX_TOKENS: positiveInt.default(5000),
    GRAPHIQL: bool.optional(),
    SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
    CLEANUP_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
    SUBSCRIPTION_BUFFER_LIMIT: positiveInt.max(100_000).default(1000),
    SUBSCRIPTION_RECHECK_SECONDS: positiveInt.max(3600).default(5),
    EVENT_POLL_INTERVAL_MS: positiveInt.min(50).max(60_000).default(1000),
    // The embedded identity engine (GoTrue-compatible, served at /auth/v1).
    PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
    AUTH_SITE_URL: z.url({ protocol: /^https?$/ }).optional(),
    AUTH_URI_ALLOW_LIST: z.string().default(''),
    AUTH_SWITCH_TENANT_CLAIMS: z
      .string()
      .default('')
      .transform((value) => value.split(',').map((s) => s.trim()).filter(Boolean))
      .pipe(
        z.array(
          z
            .string()
            .regex(/^[a-z][a-z0-9_]{0,63}$/, 'claim names must be lowercase letters, digits and _')
            .refine((name) => !reservedClaims.has(name), { message: 'names a claim idgraph sets itself' }),
        ),
      ),
    AUTH_JWT_EXP: positiveInt.max(7 * 24 * 3600).default(3600),
    AUTH_JWT_AUD: z.string().min(1).default('authenticated'),
    AUTH_JWT_ISSUER: z.string().min(1).optional(),
    AUTH_JWT_LEEWAY_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
    AUTH_AUTOCONFIRM: bool.default(true),
    AUTH_DISABLE_SIGNUP: bool.default(false),
    AUTH_PASSWORD_MIN_LENGTH: positiveInt.min(6).max(72).default(6),
    AUTH_REFRESH_TOKEN_ROTATION: bool.default(true),
    AUTH_REFRESH_TOKEN_REUSE_INTERVAL: z.coerce.number().int().min(0).max(3600).default(10),
    AUTH_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION: bool.default(false),
    AUTH_OTP_EXP: positiveInt.max(86400).default(3600),
    AUTH_OTP_LENGTH: positiveInt.min(6).max(10).default(6),
    AUTH_SMS_OTP_EXP: positiveInt.max(86400).default(60),
    AUTH_MAX_FREQUENCY: z.coerce.number().int().min(0).max(3600).default(60),
    AUTH_MFA_CHALLENGE_EXPIRY: positiveInt.min(300).default(300),
    AUTH_MFA_MAX_FACTORS: positiveInt.max(100).default(10),
    AUTH_RATE_LIMIT_OTP: z.coerce.number().int().min(0).default(30),
    AUTH_RATE_LIMIT_VERIFY: z.coerce.number().int().min(0).default(30),
    AUTH_RATE_LIMIT_TOKEN: z.coerce.number().int().min(0).default(150),
    AUTH_RATE_LIMIT_CREDENTIALS_PER_IP: z.coerce.number().int().min(0).default(60),
    AUTH_RATE_LIMIT_CREDENTIALS_PER_IDENTIFIER: z.coerce.number().int().min(0).default(10),
    AUTH_RATE_LIMIT_API_KEY_EXCHANGE: z.coerce.number().int().min(0).default(300),
    AUTH_KEY_ENCRYPTION_KEY: z
      .string()
      .refine((v) => Buffer.from(v, 'base64').length === 32, { message: 'must be 32 bytes, base64-encoded (openssl rand -base64 32)' })
      .optional(),
    AUTH_ANON_KEY: z.string().min(20).optional(),
    AUTH_SERVICE_ROLE_KEY: z.string().min(20).optional(),
    AUTH_OIDC_ISSUERS: z.string().default('[]'),
    NOTIFIER: z.enum(['dev', 'smtp']).default('dev'),
    SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
    SMTP_FROM: z.string().min(3).default('idgraph <no-reply@localhost>'),
    // A Supabase Auth (GoTrue) server in place of the embedded engine.
    GOTRUE_URL: z.url({ protocol: /^https?$/ }).optional(),
    GOTRUE_ANON_KEY: z.string().min(20).optional(),
    GOTRUE_SERVICE_ROLE_KEY: z.string().min(20).optional(),
    GOTRUE_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    GOTRUE_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
    GOTRUE_JWT_ISSUER: z.string().min(1).optional(),
    GOTRUE_CONNECT_TIMEOUT_MS: positiveInt.max(60_000).default(2000),
    GOTRUE_HEADERS_TIMEOUT_MS: positiveInt.max(120_000).default(10_000),
    GOTRUE_BODY_TIMEOUT_MS: positiveInt.max(120_000).default(10_000),
    GOTRUE_MAX_CONNECTIONS: positiveInt.max(1024).default(64),
    GOTRUE_RETRIES: z.coerce.number().int().min(0).max(5).default(2),
    GOTRUE_BREAKER_THRESHOLD: positiveInt.max(1000).default(5),
    GOTRUE_BREAKER_COOLDOWN_MS: positiveInt.max(600_000).default(10_000),
    GOTRUE_HOOK_SECRET: z
      .string()
      .regex(/^v1,whsec_[A-Za-z0-9+/=]{24,}$/, 'must be a Standard Webhooks secret: v1,whsec_<base64>')
      .optional(),
    SYNC_WEBHOOK_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    // Outgoing webhooks: deliveries to webhook endpoints.
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: bool.default(false),
    WEBHOOK_TIMEOUT_MS: positiveInt.max(60_000).default(10_000),
    WEBHOOK_DISABLE_AFTER_FAILURES: positiveInt.max(1000).default(5),
    // The outbox relay and its destinations.
    RELAY_ENABLED: bool.default(true),
    OUTBOX_RETENTION_DAYS: positiveInt.max(3650).default(7),
    OUTBOX_LEASE_SECONDS: positiveInt.min(2).max(3600).default(120),
    PROJECTION_ENABLED: bool.optional(),
    PROJECTION_DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
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
    if (env.NOTIFIER === 'smtp' && !env.SMTP_URL) {
      ctx.addIssue({ code: 'custom', path: ['SMTP_URL'], message: 'is required when NOTIFIER=smtp' });
    }
    if (env.NODE_ENV === 'production' && !env.AUTH_KEY_ENCRYPTION_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_KEY_ENCRYPTION_KEY'],
        message: 'is required in production: signing keys and TOTP secrets are encrypted with it',
      });
    }
    if (env.NODE_ENV === 'production' && !env.ROW_LEVEL_SECURITY) {
      ctx.addIssue({ code: 'custom', path: ['ROW_LEVEL_SECURITY'], message: 'cannot be turned off in production: it guards every tenant row' });
    }
    if (env.NODE_ENV === 'production' && env.NOTIFIER === 'dev') {
      ctx.addIssue({ code: 'custom', path: ['NOTIFIER'], message: 'dev stores codes in the database; use smtp in production' });
    }
    const issuers = parseOidcIssuers(env.AUTH_OIDC_ISSUERS);
    if (!issuers.success) {
      ctx.addIssue({ code: 'custom', path: ['AUTH_OIDC_ISSUERS'], message: issuers.message });
    }
    if (env.GOTRUE_URL) {
      for (const name of ['GOTRUE_ANON_KEY', 'GOTRUE_SERVICE_ROLE_KEY'] as const) {
        if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: `is required when GOTRUE_URL is set (or ${name}_FILE)` });
      }
    }
    if (env.PROJECTION_ENABLED === false && env.PROJECTION_DATABASE_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['PROJECTION_ENABLED'],
        message: 'is false but PROJECTION_DATABASE_URL is set; unset one of them',
      });
    }
    if (env.PROJECTION_DATABASE_URL && env.PROJECTION_DATABASE_URL === env.DATABASE_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['PROJECTION_DATABASE_URL'],
        message: "is idgraph's own database; unset it and set PROJECTION_ENABLED=true to project there",
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

const oidcIssuerSchema = z
  .object({
    /** The `provider` name clients send (e.g. "authentik", or "custom:authentik"). */
    provider: z.string().regex(/^[a-z0-9:_-]{1,64}$/),
    issuer: z.url(),
    audiences: z.array(z.string().min(1)).min(1),
    jwksUri: z.url().optional(),
    skipNonceCheck: z.boolean().default(false),
    emailOptional: z.boolean().default(false),
  })
  .strict();

export type OidcIssuerConfig = z.infer<typeof oidcIssuerSchema>;

function parseOidcIssuers(text: string): { success: true; data: OidcIssuerConfig[] } | { success: false; message: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { success: false, message: 'must be a JSON array of {provider, issuer, audiences, jwksUri?}' };
  }
  const parsed = z.array(oidcIssuerSchema).safeParse(json);
  if (!parsed.success) {
    return { success: false, message: parsed.error.issues.map((i) => `[${i.path.join('.')}] ${i.message}`).join('; ') };
  }
  return { success: true, data: parsed.data };
}

export type DatabaseConfig =
  | { driver: 'pglite'; dataDir: string | null /* null = in memory */ }
  | {
      driver: 'pg' | 'neon';
      url: string;
      poolSize: number;
      connectTimeoutMs: number;
      /** Distinct SQL statements kept prepared on each pg connection (0: none, for poolers without prepared statements). */
      statementCache: number;
    };

export interface Config {
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  dataDir: string;
  database: DatabaseConfig;
  migrateOnStart: boolean;
  /** GraphQL operations run in their viewer's row-level-security scope (off only to measure what it costs). */
  rowLevelSecurity: boolean;
  defaultRealm: { slug: string; displayName: string };
  /** The first realm admin, created on first start with a one-time password printed to the console. */
  bootstrapAdminEmail: string;
  http: { bodyLimitBytes: number; shutdownTimeoutMs: number };
  /** How often expired rows are removed (rotated refresh tokens, ended rate-limit windows...); 0 = never. */
  cleanupIntervalMs: number;
  /** The auditEvents and viewerSecurityEvents subscriptions: buffer per subscriber, standing re-check, event-log poll. */
  subscriptions: { bufferLimit: number; recheckIntervalMs: number; pollIntervalMs: number };
  graphql: { maxDepth: number; maxCost: number; maxAliases: number; maxTokens: number; graphiql: boolean };
  auth: AuthConfig;
  /** Set when idgraph runs in front of a GoTrue server instead of its embedded engine. */
  gotrue: GotrueConfig | null;
  /** Shared secret of the POST /v1/sync/* routes (X-Webhook-Secret); null = they are off. */
  syncWebhookSecret: string | null;
  /** Redis for the credential rate limits and the token denylist; null = both live in the database. */
  redisUrl: string | null;
  webhooks: WebhookConfig;
  outbox: OutboxConfig;
}

export interface OutboxConfig {
  /** This process delivers outbox rows (a relay in the API process; `npm run worker` runs one on its own). */
  relayEnabled: boolean;
  /** Sent rows are removed this long after they were sent (events themselves are kept). */
  retentionDays: number;
  /** How long a relay's claim keeps others off its rows; a relay that dies gives them back when it ends. */
  leaseMs: number;
  /** The auth_events read model: in idgraph's own database, in another one, or none (no outbox row for it). */
  projection: { database: 'own' } | { database: 'separate'; url: string } | null;
}

export interface WebhookConfig {
  /** Whether endpoints may be (and deliveries may connect to) loopback, private, link-local and other non-public addresses. */
  allowPrivateNetworks: boolean;
  /** How long one delivery may take, from connecting to reading the answer. */
  timeoutMs: number;
  /** An endpoint is disabled once this many of its deliveries in a row have failed for good (every attempt spent). */
  disableAfterFailures: number;
}

export interface GotrueConfig {
  url: string;
  anonKey: string;
  serviceRoleKey: string;
  /** Legacy projects sign access tokens with HS256 and this secret; otherwise the JWKS is used. */
  jwtSecret: string | null;
  jwksUrl: string;
  /** Checked when set (GoTrue omits iss when GOTRUE_JWT_ISSUER is empty on its side). */
  issuer: string | null;
  timeouts: { connectMs: number; headersMs: number; bodyMs: number };
  maxConnections: number;
  retries: number;
  breaker: { threshold: number; cooldownMs: number };
  /** Standard Webhooks secret of the custom access token hook; null = POST /hooks/custom-access-token is off. */
  hookSecret: string | null;
}

export interface AuthConfig {
  /** Where idgraph is reached from outside; links in messages point here. */
  publicUrl: string;
  siteUrl: string;
  uriAllowList: string[];
  /** Claims a caller may set with switchTenant's customClaims (never one idgraph or GoTrue sets). */
  switchTenantClaims: string[];
  jwt: { exp: number; aud: string; issuer: string; leewaySeconds: number };
  autoconfirm: boolean;
  disableSignup: boolean;
  passwordMinLength: number;
  refreshToken: { rotation: boolean; reuseIntervalSeconds: number };
  updatePasswordRequireReauthentication: boolean;
  otp: { emailExpSeconds: number; smsExpSeconds: number; length: number; maxFrequencySeconds: number };
  mfa: { challengeExpirySeconds: number; maxFactors: number };
  rateLimits: {
    otpPer5Min: number;
    verifyPer5Min: number;
    tokenPer5Min: number;
    credentialsPerIpPer5Min: number;
    credentialsPerIdentifierPer5Min: number;
    apiKeyExchangePerIpPer5Min: number;
  };
  /** 32-byte key; null = keys and TOTP secrets stored in plain text (embedded dev mode only). */
  keyEncryptionKey: Buffer | null;
  anonKey: string | null;
  serviceRoleKey: string | null;
  oidcIssuers: OidcIssuerConfig[];
  notifier: { kind: 'dev' } | { kind: 'smtp'; url: string; from: string };
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
    statementCache: env.DATABASE_STATEMENT_CACHE,
  };
}

/** Parses the environment. Throws ConfigError naming every invalid variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  // An empty variable means "not set", as in most twelve-factor tools.
  const { values: present, problems: fileProblems } = readSecretFiles(
    Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== '')) as Record<string, string>,
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success || fileProblems.length > 0) {
    throw new ConfigError([
      ...fileProblems,
      ...(parsed.error?.issues ?? []).map((issue) => {
        const name = issue.path.join('.') || '(environment)';
        const value = present[name];
        const shown = value === undefined ? '' : ` (got ${JSON.stringify(redactValue(name, value))})`;
        return `${name}: ${issue.message}${shown}`;
      }),
    ]);
  }
  const env = parsed.data;
  const publicUrl = (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/$/, '');
  const auth: AuthConfig = {
    publicUrl,
    siteUrl: (env.AUTH_SITE_URL ?? publicUrl).replace(/\/$/, ''),
    uriAllowList: env.AUTH_URI_ALLOW_LIST.split(',').map((s) => s.trim()).filter(Boolean),
    switchTenantClaims: env.AUTH_SWITCH_TENANT_CLAIMS,
    jwt: {
      exp: env.AUTH_JWT_EXP,
      aud: env.AUTH_JWT_AUD,
      issuer: env.AUTH_JWT_ISSUER ?? `${publicUrl}/auth/v1`,
      leewaySeconds: env.AUTH_JWT_LEEWAY_SECONDS,
    },
    autoconfirm: env.AUTH_AUTOCONFIRM,
    disableSignup: env.AUTH_DISABLE_SIGNUP,
    passwordMinLength: env.AUTH_PASSWORD_MIN_LENGTH,
    refreshToken: { rotation: env.AUTH_REFRESH_TOKEN_ROTATION, reuseIntervalSeconds: env.AUTH_REFRESH_TOKEN_REUSE_INTERVAL },
    updatePasswordRequireReauthentication: env.AUTH_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION,
    otp: {
      emailExpSeconds: env.AUTH_OTP_EXP,
      smsExpSeconds: env.AUTH_SMS_OTP_EXP,
      length: env.AUTH_OTP_LENGTH,
      maxFrequencySeconds: env.AUTH_MAX_FREQUENCY,
    },
    mfa: { challengeExpirySeconds: env.AUTH_MFA_CHALLENGE_EXPIRY, maxFactors: env.AUTH_MFA_MAX_FACTORS },
    rateLimits: {
      otpPer5Min: env.AUTH_RATE_LIMIT_OTP,
      verifyPer5Min: env.AUTH_RATE_LIMIT_VERIFY,
      tokenPer5Min: env.AUTH_RATE_LIMIT_TOKEN,
      credentialsPerIpPer5Min: env.AUTH_RATE_LIMIT_CREDENTIALS_PER_IP,
      credentialsPerIdentifierPer5Min: env.AUTH_RATE_LIMIT_CREDENTIALS_PER_IDENTIFIER,
      apiKeyExchangePerIpPer5Min: env.AUTH_RATE_LIMIT_API_KEY_EXCHANGE,
    },
    keyEncryptionKey: env.AUTH_KEY_ENCRYPTION_KEY ? Buffer.from(env.AUTH_KEY_ENCRYPTION_KEY, 'base64') : null,
    anonKey: env.AUTH_ANON_KEY ?? null,
    serviceRoleKey: env.AUTH_SERVICE_ROLE_KEY ?? null,
    oidcIssuers: (parseOidcIssuers(env.AUTH_OIDC_ISSUERS) as { data: OidcIssuerConfig[] }).data,
    notifier: env.NOTIFIER === 'smtp' ? { kind: 'smtp', url: env.SMTP_URL as string, from: env.SMTP_FROM } : { kind: 'dev' },
  };
  return {
    env: env.NODE_ENV,
    host: env.HOST,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    dataDir: path.resolve(env.DATA_DIR),
    database: databaseConfig(env),
    migrateOnStart: env.MIGRATE_ON_START,
    rowLevelSecurity: env.ROW_LEVEL_SECURITY,
    defaultRealm: { slug: env.DEFAULT_REALM_SLUG, displayName: env.DEFAULT_REALM_NAME },
    bootstrapAdminEmail: env.BOOTSTRAP_ADMIN_EMAIL.toLowerCase(),
    http: { bodyLimitBytes: env.BODY_LIMIT_BYTES, shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS },
    cleanupIntervalMs: env.CLEANUP_INTERVAL_SECONDS * 1000,
    subscriptions: {
      bufferLimit: env.SUBSCRIPTION_BUFFER_LIMIT,
      recheckIntervalMs: env.SUBSCRIPTION_RECHECK_SECONDS * 1000,
      pollIntervalMs: env.EVENT_POLL_INTERVAL_MS,
    },
    graphql: {
      maxDepth: env.GRAPHQL_MAX_DEPTH,
      maxCost: env.GRAPHQL_MAX_COST,
      maxAliases: env.GRAPHQL_MAX_ALIASES,
      maxTokens: env.GRAPHQL_MAX_TOKENS,
      graphiql: env.GRAPHIQL ?? env.NODE_ENV !== 'production',
    },
    auth,
    gotrue: env.GOTRUE_URL
      ? {
          url: env.GOTRUE_URL.replace(/\/$/, ''),
          anonKey: env.GOTRUE_ANON_KEY as string,
          serviceRoleKey: env.GOTRUE_SERVICE_ROLE_KEY as string,
          jwtSecret: env.GOTRUE_JWT_SECRET ?? null,
          jwksUrl: env.GOTRUE_JWKS_URL ?? `${env.GOTRUE_URL.replace(/\/$/, '')}/.well-known/jwks.json`,
          issuer: env.GOTRUE_JWT_ISSUER ?? null,
          timeouts: { connectMs: env.GOTRUE_CONNECT_TIMEOUT_MS, headersMs: env.GOTRUE_HEADERS_TIMEOUT_MS, bodyMs: env.GOTRUE_BODY_TIMEOUT_MS },
          maxConnections: env.GOTRUE_MAX_CONNECTIONS,
          retries: env.GOTRUE_RETRIES,
          breaker: { threshold: env.GOTRUE_BREAKER_THRESHOLD, cooldownMs: env.GOTRUE_BREAKER_COOLDOWN_MS },
          hookSecret: env.GOTRUE_HOOK_SECRET ?? null,
        }
      : null,
    syncWebhookSecret: env.SYNC_WEBHOOK_SECRET ?? null,
    redisUrl: env.REDIS_URL ?? null,
    webhooks: {
      allowPrivateNetworks: env.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      disableAfterFailures: env.WEBHOOK_DISABLE_AFTER_FAILURES,
    },
    outbox: {
      relayEnabled: env.RELAY_ENABLED,
      retentionDays: env.OUTBOX_RETENTION_DAYS,
      leaseMs: env.OUTBOX_LEASE_SECONDS * 1000,
      projection: env.PROJECTION_DATABASE_URL
        ? { database: 'separate', url: env.PROJECTION_DATABASE_URL }
        : env.PROJECTION_ENABLED
          ? { database: 'own' }
          : null,
    },
  };
}

/** Secrets that may come from a file (Docker and Kubernetes secrets): NAME_FILE holds the path. */
const fileBackedSecrets = ['REDIS_URL', 'PROJECTION_DATABASE_URL', 'GOTRUE_ANON_KEY', 'GOTRUE_SERVICE_ROLE_KEY', 'GOTRUE_JWT_SECRET', 'GOTRUE_HOOK_SECRET', 'SYNC_WEBHOOK_SECRET'];

function readSecretFiles(env: Record<string, string>): { values: Record<string, string>; problems: string[] } {
  const values = { ...env };
  const problems: string[] = [];
  for (const name of fileBackedSecrets) {
    const file = env[`${name}_FILE`];
    if (file === undefined) continue;
    delete values[`${name}_FILE`];
    if (env[name] !== undefined) {
      problems.push(`${name}_FILE: set ${name} or ${name}_FILE, not both`);
      continue;
    }
    try {
      const value = readFileSync(file, 'utf8').trim();
      if (value) values[name] = value;
      else problems.push(`${name}_FILE: ${file} is empty`);
    } catch (error) {
      problems.push(`${name}_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return { values, problems };
}

/** Connection strings carry passwords: never echo them back in an error. */
export function redactValue(name: string, value: string): string {
  if (name === 'DATABASE_URL' || name === 'REDIS_URL' || name === 'PROJECTION_DATABASE_URL') return value.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  if (/SECRET|KEY|PASSWORD|TOKEN|SMTP_URL/.test(name)) return '***';
  return value;
}

/** Database URL with its password hidden, for logs and health output. */
export function describeDatabase(db: DatabaseConfig): string {
  if (db.driver === 'pglite') return db.dataDir ? `pglite:${db.dataDir}` : 'pglite:memory';
  return `${db.driver}:${redactValue('DATABASE_URL', db.url)}`;
}
