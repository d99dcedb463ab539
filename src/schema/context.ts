import type { Viewer } from '../auth/viewer.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Logger } from '../log.js';
import type { Services } from '../services/index.js';

export interface GraphQLContext {
  /** Used by Pothos' prisma plugin for plain relation reads; decisions go through services. */
  prisma: PrismaClient;
  services: Services;
  viewer: Viewer | null;
  requestId: string;
  log: Logger;
}
