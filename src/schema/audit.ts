import type { EventStreamItem } from '../events/event-stream.js';
import type { AuditEventRow } from '../services/audit.js';
import { builder } from './builder.js';
import { connectionType } from './connections.js';
import { TenantRef } from './tenant.js';
import { referencedUser, UserRef } from './user.js';
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
    aggregateType: t.exposeString('aggregateType', { description: 'The kind of entity the event belongs to: tenant, user, realm, invitation, …' }),
    aggregateId: t.exposeString('aggregateId', { description: 'The id of that entity, as it was when the event was recorded (it may be gone since).' }),
    version: t.exposeInt('version', { description: 'The event’s number within its aggregate, from 1.' }),
    tenant: t.field({
      type: TenantRef,
      nullable: true,
      description: 'The tenant the event belongs to; null for realm and identity events, and for a tenant the caller can no longer read.',
      resolve: (event, _args, ctx) => (event.tenantId ? ctx.services.references.tenant(ctx.caller, event.tenantId) : null),
    }),
    realmId: t.exposeID('realmId', { nullable: true, description: 'The realm of a realm event (the realm query answers it); null otherwise.' }),
    actor: t.field({
      type: UserRef,
      nullable: true,
      description:
        'The user who did it (for an API key, its owner). Null when idgraph itself or an administrator through the service role did it, and for a user since deleted or one the caller may not see.',
      resolve: (event, _args, ctx) => referencedUser(ctx, event.metadata?.actorId),
    }),
    requestId: t.string({
      nullable: true,
      description: 'The X-Request-Id of the request that made the change, to find it in the logs.',
      resolve: (event) => event.metadata?.requestId ?? null,
    }),
    ip: t.string({ nullable: true, description: 'The client address the change came from.', resolve: (event) => event.metadata?.ip ?? null }),
    payload: t.field({ type: 'JSON', description: 'What changed. Never secrets, hashes or tokens.', resolve: (event) => event.payload }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
  }),
});

const AuditEventFilter = builder.inputType('AuditEventFilter', {
  description: 'Narrows the audit log; every condition given must hold.',
  fields: (t) => ({
    tenantId: t.id({ required: false, description: 'Only this tenant’s events. Required unless the caller is a realm admin.' }),
    actorId: t.id({ required: false, description: 'Only events caused by this user.' }),
    types: t.stringList({ required: false, description: 'Only these event types (exact, such as member.added).' }),
    since: t.field({ type: 'DateTime', required: false, description: 'Events at or after this time.' }),
    until: t.field({ type: 'DateTime', required: false, description: 'Events before this time.' }),
  }),
});

const idOf = (value: string | number | null | undefined) => (value == null ? value : String(value));

/** The auditEvents query's edge, also what the auditEvents subscription sends: the same cursor resumes either. */
const AuditEventEdge = builder.edgeObject({
  type: AuditEventRef,
  name: 'AuditEventEdge',
  description: 'An event and its cursor: resubscribe (or page) with `after` set to the last cursor received to resume.',
});
const AuditEventConnection = connectionType(AuditEventRef, 'AuditEvent', AuditEventEdge);

builder.queryField('auditEvents', (t) =>
  t.connection(
    {
      type: AuditEventRef,
      description:
        'The event store in position order (first ≤ 100). Realm admins read the whole realm; with filter.tenantId, callers holding audit:read in that tenant read its events.',
      args: { filter: t.arg({ type: AuditEventFilter, required: false, description: 'Which events; all the caller may read when omitted.' }) },
      resolve: (_root, { filter, ...page }, ctx) =>
        ctx.services.audit.auditEvents(
          { ...page, filter: filter && { ...filter, tenantId: idOf(filter.tenantId), actorId: idOf(filter.actorId) } },
          ctx.caller,
        ),
    },
    AuditEventConnection,
  ),
);

builder.subscriptionField('auditEvents', (t) =>
  t.field({
    type: AuditEventEdge,
    description:
      'The event store live, under the auditEvents query’s rule. With `after` (a cursor of the query’s edges or of this stream), first every event after it, then live, none missed or repeated. Ends with an error when the subscriber’s token is revoked or expires, their account is suspended or they lose the permission (checked every few seconds), or with subscription_overflow (extensions.cursor) when they fall too far behind.',
    args: {
      filter: t.arg({ type: AuditEventFilter, required: false, description: 'Which events; as for the auditEvents query.' }),
      after: t.arg.string({ required: false, description: 'The last cursor received: first every event after it, then live.' }),
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
