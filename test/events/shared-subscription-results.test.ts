import { defaultFieldResolver, type GraphQLFieldResolver, type GraphQLObjectType } from 'graphql';
import type { Client } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { seedMember, seedRole, seedTenant, signIn, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';
import { appendEvents, type Subscription, subscribeWs, wsClient } from '../helpers/subscriptions.js';

const AUDIT = `subscription ($after: String, $filter: AuditEventFilter) {
  auditEvents(after: $after, filter: $filter) { cursor node { id type payload } }
}`;

interface Edge {
  cursor: string;
  node: { id: string; type: string; payload: unknown };
}

let t: TestApp;
let admin: SignedIn;
let realmId: string;
const clients: Client[] = [];

function client(user: SignedIn) {
  const c = wsClient(t, `Bearer ${user.accessToken}`);
  clients.push(c);
  return c;
}

/**
 * Counts the executions of the subscription's selection for events of one kind: the edge's cursor is resolved
 * once per execution (the app runs in this process, on this schema).
 */
function countExecutions(kind: string) {
  const field = (schema.getType('AuditEventEdge') as GraphQLObjectType).getFields().cursor!;
  const original = field.resolve;
  const resolve: GraphQLFieldResolver<unknown, unknown> = original ?? defaultFieldResolver;
  let count = 0;
  field.resolve = (edge, args, ctx, info) => {
    if ((edge as { node: { type: string } }).node.type === kind) count++;
    return resolve(edge, args, ctx, info);
  };
  return {
    count: () => count,
    reset: () => {
      count = 0;
    },
    restore: () => {
      field.resolve = original;
    },
  };
}

/** The newest position, to subscribe after it: the stream replays nothing older and misses nothing newer. */
async function newestCursor() {
  const [row] = await t.app.db.prisma.event.findMany({ orderBy: { position: 'desc' }, take: 1, select: { position: true } });
  return (row?.position ?? 0n).toString();
}

/**
 * Waits until every subscription is live (each has had one event), so that the events appended next find
 * them all subscribed, then starts counting executions afresh.
 */
async function allLive(subscriptions: Array<Subscription<Edge>>, executions: { reset(): void }, event: { type: string; tenantId?: string }) {
  await appendEvents(t, 1, { realmId, ...event });
  for (const s of subscriptions) await s.waitForItems(1);
  executions.reset();
}

beforeAll(async () => {
  t = await startTestApp({ env: { EVENT_POLL_INTERVAL_MS: '60000' } });
  admin = await signInRealmAdmin(t);
  realmId = await t.app.services.realms.defaultRealmId();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
});
afterAll(() => t.close());

describe('auditEvents subscribers of one operation', () => {
  it('share one execution of the selection per event when they hold the same token and scope', async () => {
    const kind = 'test.shared';
    const executions = countExecutions(kind);
    try {
      const after = await newestCursor();
      const subscribers = Array.from({ length: 6 }, () => subscribeWs<Edge>(client(admin), AUDIT, { after, filter: { types: [kind] } }, 'auditEvents'));
      await allLive(subscribers, executions, { type: kind });
      const positions = await appendEvents(t, 3, { type: kind, realmId, payload: { n: 1 } });
      for (const s of subscribers) {
        await s.waitForItems(4);
        expect(s.items.slice(1).map((e) => e.cursor)).toEqual(positions.map(String));
        expect(s.items.slice(1).map((e) => e.node.payload)).toEqual([{ n: 1 }, { n: 1 }, { n: 1 }]);
        expect(s.errors).toEqual([]);
      }
      expect(executions.count()).toBe(3);
    } finally {
      executions.restore();
    }
  });

  it('do not share across tokens, even of one user in one scope, nor across callers who see the same events', async () => {
    const kind = 'test.not_shared';
    const otherSession = await signIn(t, admin);
    const owner = await signUpUser(t);
    const tenantId = (await seedTenant(t, owner.userId)).id;
    const auditor = await signUpUser(t);
    await seedRole(t, 'shared-results-auditor', ['audit:read']);
    await seedMember(t, tenantId, auditor.userId, 'shared-results-auditor');
    const executions = countExecutions(kind);
    try {
      const after = await newestCursor();
      const variables = { after, filter: { tenantId, types: [kind] } };
      const subscribers = [admin, otherSession, auditor].map((user) => subscribeWs<Edge>(client(user), AUDIT, variables, 'auditEvents'));
      await allLive(subscribers, executions, { type: kind, tenantId });
      const positions = await appendEvents(t, 2, { type: kind, realmId, tenantId });
      for (const s of subscribers) {
        await s.waitForItems(3);
        expect(s.items.slice(1).map((e) => e.cursor)).toEqual(positions.map(String));
      }
      expect(executions.count()).toBe(2 * 3);
    } finally {
      executions.restore();
    }
  });

  it('do not share across different variables', async () => {
    const kind = 'test.variables';
    const executions = countExecutions(kind);
    try {
      const after = await newestCursor();
      const narrow = subscribeWs<Edge>(client(admin), AUDIT, { after, filter: { types: [kind] } }, 'auditEvents');
      const wide = subscribeWs<Edge>(client(admin), AUDIT, { after, filter: { types: [kind, 'test.other'] } }, 'auditEvents');
      await allLive([narrow, wide], executions, { type: kind });
      await appendEvents(t, 2, { type: kind, realmId });
      await narrow.waitForItems(3);
      await wide.waitForItems(3);
      expect(executions.count()).toBe(2 * 2);
    } finally {
      executions.restore();
    }
  });
});
