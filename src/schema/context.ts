import type { Viewer } from '../auth/viewer.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Logger } from '../log.js';
import type { Services } from '../services/index.js';
import type { Caller } from '../services/caller.js';
import type { RequestOrigin } from '../services/origins.js';

export interface GraphQLContext {
  /** Used by Pothos' prisma plugin for plain relation reads; decisions go through services. */
  prisma: PrismaClient;
  services: Services;
  viewer: Viewer | null;
  /** The viewer with its raw access token and request metadata, for provider calls. */
  caller: Caller;
  /** The browser page behind the request (Origin, fetch metadata), for the origin allowlist. */
  requestOrigin: RequestOrigin;
  requestId: string;
  /** The viewer the request's credential stands for now: what a long-lived subscription checks again. */
  reauthenticate: () => Promise<Viewer | null>;
  /** The clock (injected; tests control it). */
  now: () => number;
  log: Logger;
  /** What a failed MFA scope left for its error (a pre-minted challenge). */
  scopeFailure: import('../auth/scopes.js').ScopeFailureState;
  /** The query cost budget (GRAPHQL_MAX_COST). */
  limits: { maxCost: number };
}
