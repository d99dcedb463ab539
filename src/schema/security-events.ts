import type { EventStreamItem } from '../events/event-stream.js';
import { securityEventTypes } from '../identity/security-events.js';
import type { AuditEventRow } from '../services/audit.js';
import { builder } from './builder.js';

interface SecurityEvent {
  cursor: string;
  event: AuditEventRow;
  viewerId: string;
}

const SecurityEventRef = builder.objectRef<SecurityEvent>('SecurityEvent').implement({
  description: 'Something that happened to the viewer’s own account, for a “was this you?” screen.',
  fields: (t) => ({
    cursor: t.exposeString('cursor', { description: 'Resubscribe with `after` set to the last cursor received to resume.' }),
    id: t.id({ resolve: ({ event }) => event.id }),
    type: t.string({
      description: `user.signed_up, user.signed_in (a new session), user.updated (profile, email or phone as mirrored), user.status_changed (suspended, reactivated), ${Object.values(securityEventTypes).join(', ')}.`,
      resolve: ({ event }) => event.type,
    }),
    occurredAt: t.field({ type: 'DateTime', resolve: ({ event }) => event.occurredAt }),
    byViewer: t.boolean({
      description: 'Whether the viewer did it themself (false: an administrator or a service).',
      resolve: ({ event, viewerId }) => event.metadata?.actorId === viewerId,
    }),
    ip: t.string({
      nullable: true,
      description: 'The client address, for what the viewer did themself; null for what others did (their address is theirs).',
      resolve: ({ event, viewerId }) => (event.metadata?.actorId === viewerId ? (event.metadata?.ip ?? null) : null),
    }),
  }),
});

builder.subscriptionField('viewerSecurityEvents', (t) =>
  t.field({
    type: SecurityEventRef,
    description:
      'The signed-in user’s own account events, live (with `after`, first those after that cursor). Users in person only (not API keys); ends with the error code when the token is revoked or expires or the account is suspended.',
    args: { after: t.arg.string({ required: false, description: 'The last cursor received: first every event after it, then live.' }) },
    subscribe: (_root, { after }, ctx) => ctx.services.eventStreams.viewerSecurityEvents({ after }, ctx.caller, ctx.reauthenticate),
    resolve: (item: EventStreamItem, _args, ctx) => {
      if ('end' in item) throw item.end;
      return { cursor: item.event.position.toString(), event: item.event, viewerId: ctx.viewer?.userId ?? '' };
    },
  }),
);
