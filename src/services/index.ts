import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import type { EventStore } from '../events/store.js';
import type { RevocationList } from '../auth/revocation.js';
import type { IdentityProvider } from '../identity/provider.js';
import { createAccessService } from './access.js';
import { createAdminService } from './admin.js';
import { createAuditService } from './audit.js';
import { createAuthService } from './auth.js';
import { createHealthService } from './health.js';
import { createOriginService } from './origins.js';
import { createRateLimit } from './rate-limits.js';
import type { TenantClaims } from './tenant-claims.js';
import { createUserMirror } from './user-mirror.js';
import { createRealmService } from './realms.js';

export interface ServiceDeps {
  config: Config;
  db: Database;
  events: EventStore;
  clock: () => number;
  startedAt: number;
  version: string;
  provider: IdentityProvider;
  revocations: RevocationList;
  tenantClaims: TenantClaims;
}

export function createServices({ config, db, events, clock, startedAt, version, provider, revocations, tenantClaims }: ServiceDeps) {
  const mirror = createUserMirror({ db: db.prisma, events });
  const access = createAccessService({ db: db.prisma });
  const realms = createRealmService({ db: db.prisma, events, defaultRealm: config.defaultRealm });
  const limit = (name: string, points: number) => createRateLimit(db.prisma, { name, points, durationSeconds: 300 });
  const { rateLimits } = config.auth;
  const limits = {
    // /auth/v1, per IP (GoTrue's groups).
    otp: limit('auth_otp', rateLimits.otpPer5Min),
    verify: limit('auth_verify', rateLimits.verifyPer5Min),
    token: limit('auth_token', rateLimits.tokenPer5Min),
    // GraphQL credential operations, per IP and per email/phone/factor.
    credentialsPerIp: limit('gql_credentials_ip', rateLimits.credentialsPerIpPer5Min),
    credentialsPerIdentifier: limit('gql_credentials_id', rateLimits.credentialsPerIdentifierPer5Min),
  };
  return {
    limits,
    auth: createAuthService({
      db: db.prisma,
      provider,
      mirror,
      revocations,
      limits,
      tenantClaims,
      accessTokenTtlSeconds: config.auth.jwt.exp,
      clock,
    }),
    access,
    mirror,
    realms,
    origins: createOriginService({ db: db.prisma, events, access, realms, clock }),
    audit: createAuditService({ db: db.prisma, access, realms }),
    admin: createAdminService({ db: db.prisma, access, realms, clock, providerKind: provider.kind }),
    health: createHealthService({ ping: (ms) => db.ping(ms), clock, startedAt, version }),
  };
}

export type Services = ReturnType<typeof createServices>;
