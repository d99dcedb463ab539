import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { describeDatabase } from './config.js';
import { type Database, openDatabase } from './db/client.js';
import { applyMigrations } from './db/migrate.js';
import { closeRedis, connectRedis, openRedis, RedisUnreachable } from './db/redis.js';
import { createEventStore } from './events/store.js';
import { type ResolveHost, systemResolveHost } from './events/webhook-network.js';
import { createOutboxDestinations } from './events/destinations.js';
import { createRelay, type OutboxDestination, type RelayOptions } from './events/relay.js';
import { createLogger, type Logger } from './log.js';
import { schema } from './schema/index.js';
import { healthRoutes } from './server/health-routes.js';
import { createHttpServer } from './server/http.js';
import { attachGraphqlWs, connectionCredential } from './server/ws.js';
import { createYogaServer } from './server/yoga.js';
import { createServices } from './services/index.js';
import { createTenantClaims } from './services/tenant-claims.js';
import { createDomainVerifier, type DomainVerifier } from './services/domain-verifier.js';
import { createEmbeddedEngine } from './identity/embedded/engine.js';
import { engineRetentionRules } from './identity/embedded/retention.js';
import { createDevNotifier, createSmtpNotifier, type Notifier } from './identity/notifier.js';
import { authRoutes } from './server/auth-routes.js';
import { createApiKeyAuthenticator } from './auth/api-key.js';
import { requestOriginOf } from './server/origin-check.js';
import { createAccessTokenCheck, createViewerResolver } from './auth/context.js';
import { createRevocationList } from './auth/revocation.js';
import { createTokenVerifier } from './auth/verify.js';
import { createGotrueIdentity } from './identity/gotrue/identity.js';
import { authProxyRoutes } from './server/auth-proxy.js';
import { createAuthRecording } from './services/auth-recording.js';
import { createCleanup, outboxRetentionRule, realmRetentionRules } from './services/cleanup.js';
import { createAccessTokenHook } from './services/access-token-hook.js';
import { createUserSync } from './services/user-sync.js';
import { createApiKeySync } from './services/api-key-sync.js';
import { webhookRoutes } from './server/webhook-routes.js';
import type { ClaimsExtension } from './identity/embedded/sessions.js';

const version = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export interface AppOptions {
  log?: Logger;
  clock?: () => number;
  /** Outbox destinations each event is queued for; defaults to those the configuration turns on (the projection). */
  eventDestinations?: readonly string[];
  /** Destinations the relay delivers to besides the configured ones. */
  outboxDestinations?: readonly OutboxDestination[];
  /** The relay's pace (backoff, lease, polling, jitter); defaults suit production. */
  relay?: Omit<RelayOptions, 'db' | 'destinations' | 'log'>;
  /** Email/SMS delivery; defaults to the configured notifier. */
  notifier?: Notifier;
  /** Where one-time console output goes (generated keys, dev messages); defaults to stdout. */
  print?: (text: string) => void;
  /** How domain ownership is checked; defaults to real DNS and HTTPS. */
  domainVerifier?: DomainVerifier;
  /** How webhook URLs' hosts are resolved, when saved and at each connection; defaults to the system resolver. */
  resolveWebhookHost?: ResolveHost;
  /** The extra claims the embedded engine mints; defaults to the tenant claims (tests stand in for GoTrue's hook with it). */
  claimsExtension?: ClaimsExtension;
}

export type App = Awaited<ReturnType<typeof buildApp>>;

export async function buildApp(config: Config, options: AppOptions = {}) {
  const log = options.log ?? createLogger({ level: config.logLevel });
  const clock = options.clock ?? Date.now;
  const startedAt = clock();
  const db: Database = await openDatabase(config.database);
  // REDIS_URL: the credential rate limits and the token denylist go to Redis (connected in initialize()).
  const redis = config.redisUrl ? openRedis(config.redisUrl, log) : null;
  const resolveWebhookHost = options.resolveWebhookHost ?? systemResolveHost;
  const outbox = createOutboxDestinations(config, db, { log, clock, resolveWebhookHost });
  const events = createEventStore({ destinations: options.eventDestinations ?? outbox.queued });
  // RELAY_ENABLED=false leaves the outbox to `npm run worker` processes.
  const relay = config.outbox.relayEnabled
    ? createRelay({ leaseMs: config.outbox.leaseMs, ...options.relay, db, log, destinations: [...outbox.destinations, ...(options.outboxDestinations ?? [])] })
    : null;
  const print = options.print ?? ((text: string) => process.stdout.write(`${text}\n`));
  const notifier =
    options.notifier ??
    (config.auth.notifier.kind === 'smtp' ? createSmtpNotifier(config.auth.notifier) : createDevNotifier(db.prisma, print));
  const tenantClaims = createTenantClaims({ db: db.prisma });
  // With GOTRUE_URL, a GoTrue server is the identity provider; otherwise the embedded engine is.
  const gotrue = config.gotrue ? createGotrueIdentity({ config: config.gotrue, log, clock }) : null;
  const engine = gotrue ? null : createEmbeddedEngine({
    db: db.prisma,
    auth: config.auth,
    notifier,
    clock,
    version,
    print,
    claimsExtension: options.claimsExtension ?? tenantClaims.claimsFor,
    // Every route that creates a user (/auth/v1, GraphQL, admin, id_token) mirrors it in the same transaction.
    onUserCreated: (tx, user) => services.mirror.recordCreated(tx, user),
    // Sign-outs, ended sessions, factor and credential changes: recorded in the engine's transaction that makes them.
    onSecurityEvent: (event, tx) => services.mirror.recordSecurityEvent(event, tx),
    // /auth/v1 accepts a Bearer token exactly as GraphQL does.
    acceptAccessToken: (token) => accessTokens.accept(token),
    log,
  });
  const identity = gotrue ?? engine!;
  // The embedded engine's sessions are in idgraph's database: a token of an ended session is refused.
  const revocations = createRevocationList({ db: db.prisma, clock, redis, sessions: engine !== null });
  const cleanup = createCleanup({
    db: db.prisma,
    rules: [...realmRetentionRules, outboxRetentionRule(config.outbox.retentionDays), ...(engine ? engineRetentionRules : [])],
    clock,
    log,
  });
  const domainVerifier = options.domainVerifier ?? createDomainVerifier();
  const apiKeyAuth = createApiKeyAuthenticator({
    db: db.prisma,
    clock,
    onFlushError: (error) => log.warn({ err: error }, 'api key last_used_at not written; retrying with the next flush'),
  });
  const services = createServices({
    config,
    db,
    redis,
    events,
    clock,
    startedAt,
    version,
    provider: identity.provider,
    revocations,
    tenantClaims,
    domainVerifier,
    resolveWebhookHost,
    notifier,
    log,
    apiKeyAuth,
    // Platform tokens are signed with the embedded engine's keys; with GoTrue, exchangeApiKey is unavailable.
    signToken: engine ? (claims) => engine.keys.sign(claims) : null,
  });
  const verifier = createTokenVerifier({
    audience: config.auth.jwt.aud,
    leewaySeconds: config.auth.jwt.leewaySeconds,
    clock,
    ...(engine
      ? {
          issuer: config.auth.jwt.issuer,
          algorithms: ['ES256'],
          keys: { kind: 'local', jwks: () => engine.keys.jwks(), reload: () => engine.keys.reloadForUnknownKid() },
        }
      : {
          issuer: config.gotrue!.issuer,
          // The asymmetric algorithms GoTrue signs with (GOTRUE.md §4); HS256 only with the legacy secret.
          algorithms: ['RS256', 'ES256', 'EdDSA', 'RS512', 'ES512'],
          keys: { kind: 'remote', url: config.gotrue!.jwksUrl, timeoutMs: config.gotrue!.timeouts.headersMs },
          hs256Secret: config.gotrue!.jwtSecret,
        }),
  });
  const accessTokens = createAccessTokenCheck({ verifier, revocations });
  const resolveViewer = createViewerResolver({ verifier, accessTokens, apiKeys: apiKeyAuth });

  // Until migrations and bootstrap succeed, GraphQL answers 503 and /readyz says why.
  let notReadyReason: string | null = 'starting';
  const readiness = () => notReadyReason;

  const yoga = createYogaServer({
    schema,
    config,
    log,
    notReadyReason: readiness,
    origins: services.origins,
    buildContext: async (initial, requestId) => {
      // HTTP and SSE carry the token in Authorization; graphql-ws in its connection (checked per operation).
      const req = initial.req as import('node:http').IncomingMessage | undefined;
      const authorization =
        initial.request?.headers.get('authorization') ?? connectionCredential(initial.connectionParams as Record<string, unknown> | undefined, req);
      const viewer = await resolveViewer(authorization);
      // graphql-ws hands over the upgrade request as `req`; its `request` is synthetic.
      const requestOrigin = requestOriginOf((name) => req?.headers[name] ?? initial.request?.headers.get(name));
      return {
        prisma: db.prisma,
        services,
        viewer,
        caller: {
          viewer,
          // Provider calls act on a user's session: API keys and their platform tokens have none.
          accessToken: viewer && !viewer.apiKey && authorization ? authorization.trim().replace(/^Bearer\s+/i, '') : null,
          meta: {
            ip: req?.socket?.remoteAddress ?? null,
            userAgent: initial.request?.headers.get('user-agent') ?? null,
            requestId,
          },
        },
        requestOrigin,
        requestId,
        // Subscriptions check their subscriber's credential again while they live (revoked, expired, suspended).
        reauthenticate: () => resolveViewer(authorization),
        now: clock,
        // Lines carry the request id through the logger's request scope (set per HTTP request and graphql-ws message).
        log,
        limits: { maxCost: config.graphql.maxCost },
        scopeFailure: {},
      };
    },
  });
  // Sign-ins, sign-ups and profile changes through /auth/v1 reach the users mirror and the events, as through GraphQL.
  // In front of GoTrue, whose sessions idgraph cannot see, a sign-out through /auth/v1 goes on the denylist.
  const authRecording = createAuthRecording({ mirror: services.mirror, endedSessions: gotrue ? revocations : null });
  const http = createHttpServer({
    yoga,
    routes: [
      ...healthRoutes({ health: services.health, notReadyReason: readiness, outbox: services.outbox.figures }),
      ...webhookRoutes({
        hook: config.gotrue?.hookSecret ? { secret: config.gotrue.hookSecret, service: createAccessTokenHook({ tenantClaims }) } : null,
        sync: config.syncWebhookSecret
          ? {
              secret: config.syncWebhookSecret,
              service: createUserSync({ mirror: services.mirror }),
              apiKeys: createApiKeySync({ db: db.prisma, events, access: services.access, clock, authenticator: apiKeyAuth }),
            }
          : null,
        secretFailures: services.webhookSecretFailures,
        bodyLimitBytes: config.http.bodyLimitBytes,
        clock,
      }),
      ...(gotrue
        ? authProxyRoutes({
            transport: gotrue.transport,
            anonKey: gotrue.apiKeys().anon,
            ...authRecording,
            checkOrigin: (request) => services.origins.assertRequestAllowed(request),
            log,
          })
        : authRoutes({
            ...authRecording,
            provider: identity.provider,
            auth: config.auth,
            isApiKey: (value) => identity.isApiKey(value),
            checkOrigin: (request) => services.origins.assertRequestAllowed(request),
            limits: services.limits,
            bodyLimitBytes: config.http.bodyLimitBytes,
            log,
            notReadyReason: readiness,
          })),
    ],
    bodyLimitBytes: config.http.bodyLimitBytes,
    log,
  });
  const ws = attachGraphqlWs(http.server, yoga, {
    maxPayloadBytes: config.http.bodyLimitBytes,
    // A token that does not verify refuses the connection; each operation re-checks it (expiry, revocation).
    authorizeConnection: async (params, upgrade) =>
      resolveViewer(connectionCredential(params, upgrade)).then(
        () => true,
        () => false,
      ),
  });

  let redisWatched = false;
  async function initialize() {
    if (config.migrateOnStart) {
      await applyMigrations(db, { onApplied: (name) => log.info({ migration: name }, 'migration applied') });
    }
    if (redis) {
      await connectRedis(redis, config.redisUrl!);
      await revocations.restore();
      if (!redisWatched) {
        redisWatched = true;
        // A Redis that restarted without persistence comes back empty: the database's live entries go back in.
        redis.on('ready', () => {
          revocations.restore().then(
            (restored) => log.info({ restored }, 'token denylist restored into Redis'),
            (error: unknown) => log.error({ err: error }, 'token denylist not restored into Redis; retrying when it reconnects'),
          );
        });
      }
    }
    await identity.init();
    const realm = await services.realms.ensureDefaultRealm();
    if (realm.created) log.info({ realmId: realm.id, slug: config.defaultRealm.slug }, 'default realm created');
    const admin = await services.realms.ensureBootstrapAdmin({ provider: identity.provider, mirror: services.mirror, email: config.bootstrapAdminEmail });
    if (admin?.password) {
      log.info({ email: admin.email }, 'bootstrap realm admin created; its password was printed to the console');
      print(`\nidgraph created the realm administrator (password shown once; change it after signing in):\n  email:    ${admin.email}\n  password: ${admin.password}\n`);
    } else if (admin?.granted) {
      log.info({ email: admin.email }, 'the existing account with the bootstrap admin email is now the realm administrator');
    } else if (admin) {
      log.warn({ email: admin.email }, 'the bootstrap admin email has an account idgraph has not seen: sign in with it once, then restart, to make it the realm administrator');
    }
  }

  let retryTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** Tries to initialise; on failure reports why through readiness and retries with backoff. */
  async function initializeWithRetry(attempt = 1): Promise<void> {
    try {
      await initialize();
      notReadyReason = null;
      cleanup.start(config.cleanupIntervalMs);
      if (!stopped) await relay?.start();
      log.info('ready');
    } catch (error) {
      notReadyReason = error instanceof RedisUnreachable ? error.message : `database: ${error instanceof Error ? error.message : String(error)}`;
      const delayMs = Math.min(30_000, 1000 * 2 ** (attempt - 1));
      log.error({ err: error, attempt, retryInMs: delayMs }, 'start-up failed; retrying');
      if (!stopped) retryTimer = setTimeout(() => void initializeWithRetry(attempt + 1), delayMs);
    }
  }

  return {
    config,
    log,
    db,
    /** The Redis client when REDIS_URL is set (rate limits and denylist live there), else null. */
    redis,
    services,
    /** The identity provider's side: API keys, readiness, and the adapter behind the port. */
    identity,
    /** The embedded engine (signing keys...); null in front of GoTrue. */
    engine,
    revocations,
    /** Removal of expired rows, every CLEANUP_INTERVAL_SECONDS once ready. */
    cleanup,
    /** The outbox relay of this process, started once ready; null with RELAY_ENABLED=false. */
    relay,
    /** API-key authentication: its cache and the last_used_at writer (flushLastUsed). */
    apiKeyAuth,
    /** The viewer an Authorization header stands for (what every request resolves). */
    resolveViewer,
    yoga,
    server: http.server,
    isReady: () => notReadyReason === null,
    /** Listens, then migrates and bootstraps. Resolves after the first attempt, ready or not. */
    async start(port = config.port, host = config.host) {
      await new Promise<void>((resolve, reject) => {
        http.server.once('error', reject);
        http.server.listen(port, host, () => {
          http.server.off('error', reject);
          resolve();
        });
      });
      const address = http.server.address() as AddressInfo;
      log.info({ port: address.port, database: describeDatabase(config.database) }, 'listening');
      await initializeWithRetry();
      const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
      return { port: address.port, url: `http://${shownHost}:${address.port}` };
    },
    /** Drains in-flight requests, closes sockets, then the database. */
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      // Open subscriptions (SSE ones too, which the HTTP drain would otherwise wait for) end, resumable.
      await services.eventLogTail.stop();
      await ws.close();
      if (http.server.listening) await http.close(config.http.shutdownTimeoutMs);
      await yoga.dispose();
      await engine?.settled();
      await apiKeyAuth.stop().catch((error: unknown) => log.warn({ err: error }, 'api key last_used_at not written at shutdown'));
      await gotrue?.close();
      await cleanup.stop();
      await relay?.stop();
      await outbox.close();
      if (redis) await closeRedis(redis);
      await db.close();
    },
  };
}
