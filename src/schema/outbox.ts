import type { OutboxDestinationHealth } from '../events/outbox.js';
import { builder } from './builder.js';

const OutboxDestinationHealthRef = builder.objectRef<OutboxDestinationHealth>('OutboxDestinationHealth').implement({
  description: 'The outbox of one destination (the projection, or webhook:<endpoint id>).',
  fields: (t) => ({
    destination: t.exposeString('destination'),
    pending: t.exposeInt('pending', { description: 'Rows waiting for delivery, including those between retries.' }),
    failed: t.exposeInt('failed', { description: 'Rows that failed every attempt; replayFailedOutbox sends them again.' }),
    oldestPendingAgeSeconds: t.exposeInt('oldestPendingAgeSeconds', {
      nullable: true,
      description: 'How long the oldest pending row has waited; null when none is pending.',
    }),
  }),
});

builder.queryField('outboxHealth', (t) =>
  t.field({
    type: [OutboxDestinationHealthRef],
    description: 'Per destination with pending or failed rows. Realm admins only.',
    resolve: (_root, _args, ctx) => ctx.services.outbox.health(ctx.caller),
  }),
);

builder.mutationField('replayFailedOutbox', (t) =>
  t.int({
    description: 'Makes the destination’s failed outbox rows pending again with fresh attempts; returns how many. Realm admins only.',
    args: { destination: t.arg.string({ required: true, description: 'A destination as outboxHealth names it: projection, or webhook:<endpoint id>.' }) },
    resolve: (_root, args, ctx) => ctx.services.outbox.replayFailed(args, ctx.caller),
  }),
);
