import { builder } from './builder.js';

const ComponentStatus = builder.enumType('ComponentStatus', { values: ['UP', 'DOWN'] as const });

interface HealthShape {
  database: 'UP' | 'DOWN';
  version: string;
  uptimeSeconds: number;
}

const Health = builder.objectRef<HealthShape>('Health').implement({
  description: 'Liveness of idgraph and its database, readable without authentication.',
  fields: (t) => ({
    database: t.expose('database', { type: ComponentStatus }),
    version: t.exposeString('version'),
    uptimeSeconds: t.exposeInt('uptimeSeconds'),
  }),
});

builder.queryField('health', (t) =>
  t.field({
    type: Health,
    resolve: (_root, _args, ctx) => ctx.services.health.check(),
  }),
);
