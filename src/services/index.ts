import type { Redis } from 'ioredis';
import type { JWTPayload } from 'jose';
import type { ApiKeyAuthenticator } from '../auth/api-key.js';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import type { EventStore } from '../events/store.js';
import type { RevocationList } from '../auth/revocation.js';
import type { IdentityProvider } from '../identity/provider.js';
import type { Notifier } from '../identity/notifier.js';
import type { Logger } from '../log.js';
import { createAccessService } from './access.js';
import { premintChallenge } from './mfa-challenge.js';
import { createApiKeyService } from './api-keys.js';
import { createAdminService } from './admin.js';
import { createAuditService } from './audit.js';
import { createEventStreams } from './event-streams.js';
import { createEventLogTail } from '../events/log-tail.js';
import { createAuthService } from './auth.js';
import type { DomainVerifier } from './domain-verifier.js';
import { createDomainService } from './domains.js';
import { createHealthService } from './health.js';
import { createOtpService } from './otp.js';
import { createOutboxService } from './outbox.js';
import { createOriginService } from './origins.js';
import { createWebhookService } from './webhooks.js';
import type { ResolveHost } from '../events/webhook-network.js';
import { createSecretBox } from '../identity/embedded/crypto.js';
import { createAuthRateLimits } from './auth-rate-limits.js';
import { createRateLimit } from './rate-limits.js';
import type { TenantClaims } from './tenant-claims.js';
import { createUserMirror } from './user-mirror.js';
import { createRealmService } from './realms.js';
import { createMemberService } from './members.js';
import { createRoleService } from './roles.js';
import { createTenantService } from './tenants.js';
import { createProvisioning } from './provisioning.js';
import { createReferenceService } from './references.js';
import { createNodeService } from './nodes.js';
import { createInvitationService } from './invitations.js';
import { viaProvider } from './provider-errors.js';
import { systemScoped } from '../db/tenant-scope.js';

export interface ServiceDeps {
  config: Config;
  db: Database;
  /** Redis (REDIS_URL) for the rate limits; null keeps them in the database. */
  redis: Redis | null;
  events: EventStore;
  clock: () => number;
  startedAt: number;
  version: string;
  provider: IdentityProvider;
  revocations: RevocationList;
  tenantClaims: TenantClaims;
  /** How domain ownership is checked (DNS, HTTPS). */
  domainVerifier: DomainVerifier;
  /** The DNS lookups of webhook URLs' hosts. */
  resolveWebhookHost: ResolveHost;
  /** Email and SMS delivery for what the realm layer sends (invitations). */
  notifier: Notifier;
  log: Logger;
  apiKeyAuth: ApiKeyAuthenticator;
  /** Signs tokens with the keys access tokens are verified with (platform tokens of exchangeApiKey); null when idgraph holds no signing key (GoTrue mode). */
  signToken: ((claims: JWTPayload) => Promise<string>) | null;
}

export function createServices(deps: ServiceDeps) {
  const { config, db, redis, events, clock, startedAt, version, provider, revocations, tenantClaims, domainVerifier, notifier, log, apiKeyAuth, signToken } = deps;
  const { resolveWebhookHost } = deps;
  const realms = createRealmService({ db: db.prisma, events, defaultRealm: config.defaultRealm });
  const mirror = createUserMirror({ db: db.prisma, events });
  const access = createAccessService({ db: db.prisma, premintChallenge: (caller) => premintChallenge(provider, caller) });
  const limitStore = { db: db.prisma, redis };
  // One policy for GraphQL and /auth/v1 (auth-rate-limits.ts).
  const limits = createAuthRateLimits(limitStore, config.auth.rateLimits);
  const apiKeyExchangePerIp = createRateLimit(limitStore, {
    name: 'gql_apikey_exchange_ip',
    points: config.auth.rateLimits.apiKeyExchangePerIpPer5Min,
    durationSeconds: 300,
  });
  // Wrong shared secrets or signatures on the hook and sync routes, per IP: a guesser is refused before the check.
  const webhookSecretFailures = createRateLimit(limitStore, {
    name: 'webhook_secret_ip',
    points: config.auth.rateLimits.credentialsPerIpPer5Min,
    durationSeconds: 300,
  });
  const realmDeps = { db: db.prisma, events, access, realms };
  const audit = createAuditService({ db: db.prisma, access, realms });
  const eventLogTail = createEventLogTail({ db, pollIntervalMs: config.subscriptions.pollIntervalMs, log });
  return {
    limits,
    webhookSecretFailures,
    // Credential flows act for someone who is not signed in yet (their tenants, provisioning): the 'system' scope.
    auth: systemScoped(createAuthService({
      db: db.prisma,
      provider,
      mirror,
      revocations,
      limits,
      tenantClaims,
      provisioning: createProvisioning({ db: db.prisma, events, realms, autoconfirmsEmail: async () => (await viaProvider(() => provider.settings())).mailer_autoconfirm }),
      switchTenantClaims: config.auth.switchTenantClaims,
      accessTokenTtlSeconds: config.auth.jwt.exp,
      clock,
    })),
    access,
    mirror,
    realms,
    // A new tenant has no member yet when its row is written; a removed one has none left before the removal ends.
    tenants: systemScoped(createTenantService({ ...realmDeps, clock }), ['create', 'remove']),
    members: createMemberService({ ...realmDeps, provider, apiKeyCache: apiKeyAuth }),
    roles: createRoleService(realmDeps),
    references: createReferenceService({ db: db.prisma, access, realms }),
    nodes: createNodeService({ db: db.prisma, access, realms }),
    otp: createOtpService({ db: db.prisma, events, access, clock, keyEncryptionKey: config.auth.keyEncryptionKey }),
    // A domain is one tenant's: claiming and verifying check every tenant's claims.
    domains: systemScoped(createDomainService({ db: db.prisma, events, access, realms, clock, verifier: domainVerifier }), ['claimDomain', 'verifyDomain']),
    // The token admits its holder to a tenant they are not in yet.
    invitations: systemScoped(createInvitationService({
      db: db.prisma,
      events,
      access,
      providerUser: (caller) => viaProvider(() => provider.getUser(caller.accessToken)),
      notifier,
      siteUrl: config.auth.siteUrl,
      clock,
      log,
    }), ['accept']),
    // Exchanging a key looks it up by its prefix before anyone is known.
    apiKeys: systemScoped(createApiKeyService({
      db: db.prisma,
      events,
      access,
      clock,
      authenticator: apiKeyAuth,
      platformTokens: signToken ? { sign: signToken, issuer: config.auth.jwt.issuer, audience: config.auth.jwt.aud } : null,
      exchangePerIp: apiKeyExchangePerIp,
    }), ['exchangeApiKey']),
    origins: createOriginService({ db: db.prisma, events, access, realms, clock }),
    webhooks: createWebhookService({
      db: db.prisma,
      events,
      access,
      realms,
      config: config.webhooks,
      secrets: createSecretBox(config.auth.keyEncryptionKey),
      resolveHost: resolveWebhookHost,
    }),
    audit,
    eventStreams: createEventStreams({ db: db.prisma, tail: eventLogTail, audit, limits: config.subscriptions, log, clock }),
    /** The process's reader of the event log behind the subscriptions (stopped with the app). */
    eventLogTail,
    admin: createAdminService({ db: db.prisma, access, realms, clock, providerKind: provider.kind }),
    outbox: createOutboxService({ db: db.prisma, events, access, realms, clock }),
    health: createHealthService({ ping: (ms) => db.ping(ms), pingRedis: redis ? () => redis.ping() : null, clock, startedAt, version }),
  };
}

export type Services = ReturnType<typeof createServices>;
