import type { OutboxDestinationHealth } from '../events/outbox.js';
import type { HealthService } from '../services/health.js';
import { sendJson, type RestRoute } from './rest.js';

/** /healthz: the process is alive. /readyz: it can serve (migrated, database and Redis answering). */
export function healthRoutes(deps: {
  health: HealthService;
  notReadyReason: () => string | null;
  /** The outbox per destination; /readyz shows the totals only (destination names identify webhook endpoints). */
  outbox?: () => Promise<OutboxDestinationHealth[]>;
}): RestRoute[] {
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
        // A backlog is reported, never a reason to be taken out of rotation: serving requests does not wait for it.
        const outbox = deps.outbox ? await deps.outbox().then(outboxTotals, () => null) : undefined;
        sendJson(res, 200, {
          status: 'ready',
          checks: { database: 'up', ...(check.redis ? { redis: 'up' } : {}) },
          ...(outbox ? { outbox } : {}),
          version: check.version,
        });
      },
    },
  ];
}

function outboxTotals(rows: OutboxDestinationHealth[]) {
  const ages = rows.flatMap((row) => (row.oldestPendingAgeSeconds === null ? [] : [row.oldestPendingAgeSeconds]));
  return {
    pending: rows.reduce((sum, row) => sum + row.pending, 0),
    failed: rows.reduce((sum, row) => sum + row.failed, 0),
    oldestPendingAgeSeconds: ages.length > 0 ? Math.max(...ages) : null,
  };
}
