import type { GotrueConfig } from '../../config.js';
import { isApiKey } from '../api-keys.js';
import type { Logger } from '../../log.js';
import { createGotrueProvider } from './adapter.js';
import { createGotrueClient } from './client.js';
import { createGotrueTransport } from './transport.js';

export interface GotrueIdentityDeps {
  config: GotrueConfig;
  log: Logger;
  clock: () => number;
  random?: () => number;
}

/** The GoTrue side of idgraph, assembled: transport, typed client, and the IdentityProvider port over them. */
export function createGotrueIdentity({ config, log, clock, random = Math.random }: GotrueIdentityDeps) {
  const transport = createGotrueTransport({
    baseUrl: config.url,
    timeouts: config.timeouts,
    maxConnections: config.maxConnections,
    retries: config.retries,
    retryBaseDelayMs: 50,
    breaker: config.breaker,
    clock,
    random,
    log: log.child({ component: 'gotrue' }),
  });
  const keys = { anon: config.anonKey, serviceRole: config.serviceRoleKey };
  const client = createGotrueClient({ transport, keys });
  return {
    kind: 'gotrue' as const,
    provider: createGotrueProvider({ client }),
    client,
    transport,
    /** Nothing to prepare: GoTrue owns its keys and schema. Start-up does not wait for it to be reachable. */
    async init() {},
    isApiKey: (value: string | null) => isApiKey(value, keys),
    apiKeys: () => ({ ...keys }),
    close: () => transport.close(),
  };
}

export type GotrueIdentity = ReturnType<typeof createGotrueIdentity>;
