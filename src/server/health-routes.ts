import type { HealthService } from '../services/health.js';
import { sendJson, type RestRoute } from './rest.js';

/** /healthz: the process is alive. /readyz: it can serve (migrated, database and Redis answering). */
export function healthRoutes(deps: { health: HealthService; notReadyReason: () => string | null }): RestRoute[] {
  return [
    {
      method: 'GET',
      path: '/healthz',
      handle: (_req, res) => sendJson(res, 200, { status: 'ok' }),
    },
    {
      method: 'GET',
      path: '/readyz',
      handle: async (_req, res) => {
        const starting = deps.notReadyReason();
        if (starting) return sendJson(res, 503, { status: 'unavailable', reason: starting }, { 'retry-after': '5' });
        const check = await deps.health.check();
        if (check.database === 'DOWN') {
          return sendJson(res, 503, { status: 'unavailable', reason: `database: ${check.databaseError}` }, { 'retry-after': '5' });
        }
        if (check.redis === 'DOWN') {
          return sendJson(res, 503, { status: 'unavailable', reason: `redis: ${check.redisError}` }, { 'retry-after': '5' });
        }
        sendJson(res, 200, { status: 'ready', checks: { database: 'up', ...(check.redis ? { redis: 'up' } : {}) }, version: check.version });
      },
    },
  ];
}
