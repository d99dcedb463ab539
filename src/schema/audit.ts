import type { EventStreamItem } from '../events/event-stream.js';
import type { AuditEventRow } from '../services/audit.js';
import { builder } from './builder.js';
import { NodeRef } from './node.js';

export const AuditEventRef = builder.objectRef<AuditEventRow>('AuditEvent').implement({
  interfaces: [NodeRef],
  description: 'An entry of the event store: one change to the realm layer or an identity event, as it was recorded.',
  fields: (t) => ({
    id: t.exposeID('id'),
    position: t.string({
      description: 'The global, increasing position of the event; also its cursor, for this query and the auditEvents subscription.',
      resolve: (event) => event.position.toString(),
    }),
    type: t.exposeString('type', { description: 'Dotted, past tense: tenant.created, user.signed_in.' }),
    aggregateType: t.exposeString('aggregateType'),
    aggregateId: t.exposeString('aggregateId'),
    version: t.exposeInt('version', { description: 'The event’s number within its aggregate, from 1.' }),
    tenantId: t.exposeID('tenantId', { nullable: true }),
    realmId: t.exposeID('realmId', { nullable: true }),
    actorId: t.id({ nullable: true, description: 'The user who did it; null for the system.', resolve: (event) => event.metadata?.actorId ?? null }),
    requestId: t.string({ nullable: true, resolve: (event) => event.metadata?.requestId ?? null }),
    ip: t.string({ nullable: true, description: 'The client address the change came from.', resolve: (event) => event.metadata?.ip ?? null }),
    payload: t.field({ type: 'JSON', description: 'What changed. Never secrets, hashes or tokens.', resolve: (event) => event.payload }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
  }),
});

const AuditEventFilter = builder.inputType('AuditEventFilter', {
  fields: (t) => ({
    tenantId: t.id({ required: false, description: 'Only this tenant’s events. Required unless the caller is a realm admin.' }),
    actorId: t.id({ required: false, description: 'Only events caused by this user.' }),
    kinds: t.stringList({ required: false, description: 'Only these event types (exact, such as member.added).' }),
    since: t.field({ type: 'DateTime', required: false, description: 'Events at or after this time.' }),
    until: t.field({ type: 'DateTime', required: false, description: 'Events before this time.' }),
  }),
});

const idOf = (value: string | number | null | undefined) => (value == null ? value : String(value));

builder.queryField('auditEvents', (t) =>
  t.connection({
    type: AuditEventRef,
    description:
      'The event store in position order (first ≤ 100). Realm admins read the whole realm; with filter.tenantId, callers holding audit:read in that tenant read its events.',
    args: { filter: t.arg({ type: AuditEventFilter, required: false }) },
    resolve: (_root, { filter, ...page }, ctx) =>
      ctx.services.audit.auditEvents(
        { ...page, filter: filter && { ...filter, tenantId: idOf(filter.tenantId), actorId: idOf(filter.actorId) } },
        ctx.caller,
      ),
  }),
);

/** One item of the auditEvents subscription: the event and its cursor, the cursor of the query's edges. */
const AuditEventEdgeRef = builder.objectRef<{ cursor: string; node: AuditEventRow }>('AuditEventEdge').implement({
  description: 'An event of the auditEvents subscription with its cursor: resubscribe with `after` set to the last cursor received to resume.',
  fields: (t) => ({
    cursor: t.exposeString('cursor'),
    node: t.field({ type: AuditEventRef, resolve: (edge) => edge.node }),
  }),
});

builder.subscriptionField('auditEvents', (t) =>
  t.field({
    type: AuditEventEdgeRef,
    description:
      'The event store live, under the auditEvents query’s rule. With `after` (a cursor of the query’s edges or of this stream), first every event after it, then live, none missed or repeated. Ends with an error when the subscriber’s token is revoked or expires, their account is suspended or they lose the permission (checked every few seconds), or with subscription_overflow (extensions.cursor) when they fall too far behind.',
    args: {
      filter: t.arg({ type: AuditEventFilter, required: false }),
      after: t.arg.string({ required: false }),
    },
    subscribe: (_root, { filter, after }, ctx) =>
      ctx.services.eventStreams.auditEvents(
        { after, filter: filter && { ...filter, tenantId: idOf(filter.tenantId), actorId: idOf(filter.actorId) } },
        ctx.caller,
        ctx.reauthenticate,
      ),
    resolve: (item: EventStreamItem) => {
      if ('end' in item) throw item.end;
      return { cursor: item.event.position.toString(), node: item.event };
    },
  }),
);
