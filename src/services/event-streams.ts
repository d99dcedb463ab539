import { z } from 'zod';
import type { Viewer } from '../auth/viewer.js';
import { runInTenantScope, scopeOfCaller } from '../db/tenant-scope.js';
import { AppError } from '../errors.js';
import { type EventStreamItem, type EventStreamOptions, openEventStream } from '../events/event-stream.js';
import type { EventLogTail } from '../events/log-tail.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Logger } from '../log.js';
import { type AuditEventRow, type AuditEventsInput, type AuditEventsRequest, type AuditScope, type AuditService, auditCursor, auditEventsQuery, eventInScope } from './audit.js';
import { type Caller, requireViewer } from './caller.js';
import { parseInput } from './input.js';

const securityEventsInput = z.object({ after: auditCursor.nullish() });

export interface EventStreamLimits {
  bufferLimit: number;
  recheckIntervalMs: number;
}

/** Who the subscriber is now: the credential of the subscription resolved again (revoked, expired, suspended: it throws). */
export type Reauthenticate = () => Promise<Viewer | null>;

/**
 * The live event streams: the audit log (auditEvents subscription) and a user's own security events
 * (viewerSecurityEvents). Both read the event log by position, replaying from a cursor and then following
 * the process's tail, and both end when the subscriber loses the right to read them.
 */
export function createEventStreams({
  db,
  tail,
  audit,
  limits,
  log,
  clock,
}: {
  db: PrismaClient;
  tail: EventLogTail;
  audit: Pick<AuditService, 'streamScope'>;
  limits: EventStreamLimits;
  log: Logger;
  clock: () => number;
}) {
  // Subscriptions of one credential to one scope (a console's tabs, a dashboard's panels) share their recheck: the
  // same token asks the same questions, and a thousand subscribers must not cost a thousand checks per interval.
  const recentChecks = new Map<string, { at: number; outcome: Promise<void> }>();
  function sharedCheck(key: string, check: () => Promise<void>): Promise<void> {
    const now = clock();
    const recent = recentChecks.get(key);
    if (recent && now - recent.at < limits.recheckIntervalMs / 2) return recent.outcome;
    if (recentChecks.size > 10_000) for (const [k, v] of recentChecks) if (now - v.at >= limits.recheckIntervalMs) recentChecks.delete(k);
    const outcome = check();
    recentChecks.set(key, { at: now, outcome });
    outcome.catch(() => {});
    return outcome;
  }

  function open(
    caller: Caller,
    scope: AuditScope,
    request: Pick<AuditEventsRequest, 'filter'> & { after?: string | null },
    recheck: (viewer: Viewer | null) => Promise<void>,
    reauthenticate: Reauthenticate,
    extra: Pick<EventStreamOptions, 'deliverBeforeEnding'> = {},
  ) {
    // The stream's reads run later, outside the operation: they keep the subscriber's row-level-security scope.
    const tenantScope = scopeOfCaller(caller);
    const viewer = caller.viewer;
    const credential = viewer ? `${viewer.userId}|${viewer.apiKey?.id ?? ''}|${viewer.jti ?? viewer.sessionId ?? ''}` : null;
    const checkKey = credential && `${credential}|${JSON.stringify(scope)}`;
    return openEventStream({
      // What an operation makes of an event depends on the event and on who asks (fields such as an event's actor
      // answer by the caller's permissions and claims): only subscriptions of one token to one scope share it.
      audience: viewer ? JSON.stringify([scope, viewer]) : null,
      tail,
      after: request.after ? BigInt(request.after) : null,
      page: (after, size) =>
        runInTenantScope(tenantScope, () => db.$queryRaw<AuditEventRow[]>(auditEventsQuery(scope, { filter: request.filter, after: after.toString() }, size, false))),
      matches: (event) => eventInScope(scope, request.filter, event),
      recheck: () => {
        const check = () => runInTenantScope(tenantScope, async () => recheck(await reauthenticate()));
        return checkKey ? sharedCheck(checkKey, check) : check();
      },
      onRecheckError: (error) => log.warn({ err: error }, 'a subscription ended on an unexpected error; its client can resume from its cursor'),
      ...limits,
      ...extra,
    });
  }

  return {
    /** The auditEvents query's rule, checked now and again while the stream lives. */
    async auditEvents(input: Pick<AuditEventsInput, 'filter' | 'after'>, caller: Caller, reauthenticate: Reauthenticate): Promise<AsyncIterableIterator<EventStreamItem>> {
      const { request, scope } = await audit.streamScope(input, caller);
      return open(caller, scope, request, async (viewer) => {
        await audit.streamScope(input, { ...caller, viewer });
      }, reauthenticate);
    },

    /**
     * The viewer's own account events (sign-ups, sign-ins, profile changes such as email or password, status
     * changes such as a suspension), for a "was this you?" screen. A user in person only: an API key acts for
     * its tenant, not as its owner's account.
     */
    async viewerSecurityEvents(input: { after?: string | null }, caller: Caller, reauthenticate: Reauthenticate): Promise<AsyncIterableIterator<EventStreamItem>> {
      const standing = (viewer: Viewer | null) => {
        const current = requireViewer({ ...caller, viewer });
        if (current.apiKey) throw new AppError('forbidden', 'API keys have no security events of their own.', { reason: 'api_key' });
        return current;
      };
      const viewer = standing(caller.viewer);
      const request = parseInput(securityEventsInput, input);
      return open(caller, { userId: viewer.userId }, { after: request.after }, async (current) => {
        if (standing(current).userId !== viewer.userId) throw new AppError('token_revoked');
      }, reauthenticate, { deliverBeforeEnding: true });
    },
  };
}

export type EventStreams = ReturnType<typeof createEventStreams>;
