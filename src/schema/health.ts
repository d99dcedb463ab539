import { builder } from './builder.js';

const ComponentStatus = builder.enumType('ComponentStatus', { description: 'Whether a component answered its health check.', values: ['UP', 'DOWN'] as const });

interface HealthShape {
  database: 'UP' | 'DOWN';
  redis: 'UP' | 'DOWN' | null;
  version: string;
  uptimeSeconds: number;
}

const Health = builder.objectRef<HealthShape>('Health').implement({
  description: 'Liveness of idgraph, its database and its Redis, readable without authentication.',
  fields: (t) => ({
    database: t.expose('database', { type: ComponentStatus }),
    redis: t.expose('redis', { type: ComponentStatus, nullable: true, description: 'Null when idgraph runs without Redis (REDIS_URL).' }),
    version: t.exposeString('version'),
    uptimeSeconds: t.exposeInt('uptimeSeconds'),
  }),
});

builder.queryField('health', (t) =>
  t.field({
    type: Health,
    description: 'Whether idgraph, its database and its Redis answer. Public, for probes and status pages.',
    resolve: (_root, _args, ctx) => ctx.services.health.check(),
  }),
);
