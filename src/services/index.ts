import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import type { EventStore } from '../events/store.js';
import { createHealthService } from './health.js';
import { createRealmService } from './realms.js';

export interface ServiceDeps {
  config: Config;
  db: Database;
  events: EventStore;
  clock: () => number;
  startedAt: number;
  version: string;
}

export function createServices({ config, db, events, clock, startedAt, version }: ServiceDeps) {
  return {
    realms: createRealmService({ db: db.prisma, events, defaultRealm: config.defaultRealm }),
    health: createHealthService({ ping: (ms) => db.ping(ms), clock, startedAt, version }),
  };
}

export type Services = ReturnType<typeof createServices>;
