import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import type { EventStore } from '../events/store.js';
import type { RevocationList } from '../auth/revocation.js';
import type { IdentityProvider } from '../identity/provider.js';
import { createAccessService } from './access.js';
import { createAuthService } from './auth.js';
import { createHealthService } from './health.js';
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
}

export function createServices({ config, db, events, clock, startedAt, version, provider, revocations }: ServiceDeps) {
  const mirror = createUserMirror({ db: db.prisma, events });
  return {
    auth: createAuthService({ db: db.prisma, provider, mirror, revocations }),
    access: createAccessService({ db: db.prisma }),
    mirror,
    realms: createRealmService({ db: db.prisma, events, defaultRealm: config.defaultRealm }),
    health: createHealthService({ ping: (ms) => db.ping(ms), clock, startedAt, version }),
  };
}

export type Services = ReturnType<typeof createServices>;
