import type { Client } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuditEventsDocument, CreateApiKeyDocument, SignOutDocument, UpdateUserStatusDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, testDatabaseKind } from '../helpers/database.js';
import { seedMember, seedRole, seedTenant, signIn, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';
import { appendEvents, type StreamError, subscribeSse, subscribeWs, waitUntil, wsClient } from '../helpers/subscriptions.js';

const AUDIT = `subscription ($after: String, $filter: AuditEventFilter) {
  auditEvents(after: $after, filter: $filter) { cursor node { id position type } }
}`;
const SECURITY = `subscription ($after: String) { viewerSecurityEvents(after: $after) { cursor id type byViewer ip } }`;

interface Edge {
  cursor: string;
  node: { id: string; position: string; type: string };
}
interface SecurityItem {
  cursor: string;
  id: string;
  type: string;
  byViewer: boolean;
  ip: string | null;
}

let t: TestApp;
let admin: SignedIn;
let owner: SignedIn;
let realmId: string;
let tenantA: string;
let tenantB: string;
const clients: Client[] = [];

const bearer = (user: SignedIn) => `Bearer ${user.accessToken}`;
function client(authorization?: string) {
  const c = wsClient(t, authorization);
  clients.push(c);
  return c;
}
const codes = (errors: StreamError[]) => errors.map((e) => e.extensions?.code);

/** Positions of the events of one kind after a cursor, straight from the table. */
async function positionsOf(type: string, after = 0n, app: TestApp = t) {
  const rows = await app.app.db.prisma.event.findMany({ where: { type, position: { gt: after } }, orderBy: { position: 'asc' }, select: { position: true } });
  return rows.map((r) => r.position.toString());
}

beforeAll(async () => {
  // Polling is left slow: live delivery here comes from the database's notifications.
  t = await startTestApp({ env: { SUBSCRIPTION_RECHECK_SECONDS: '1', EVENT_POLL_INTERVAL_MS: '60000' } });
  admin = await signInRealmAdmin(t);
  owner = await signUpUser(t);
  realmId = await t.app.services.realms.defaultRealmId();
  tenantA = (await seedTenant(t, owner.userId)).id;
  tenantB = (await seedTenant(t, (await signUpUser(t)).userId)).id;
  await seedRole(t, 'auditor', ['audit:read']);
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
});
afterAll(() => t.close());

describe('auditEvents subscription', () => {
  it('resumes from the query’s endCursor with every later event once, in order, across the hand-over and a reconnection', async () => {
    const kind = 'test.resumed';
    await appendEvents(t, 8, { type: kind, realmId });
    const { body } = await t.execute(AuditEventsDocument, { last: 5, filter: { types: [kind] } }, admin.headers);
    const endCursor = body.data!.auditEvents.pageInfo.endCursor!;
    expect(body.data!.auditEvents.edges).toHaveLength(5);

    // Writes go on while the subscription replays and switches to live.
    const writing = appendEvents(t, 30, { type: kind, realmId });
    const first = subscribeWs<Edge>(client(bearer(admin)), AUDIT, { after: endCursor, filter: { types: [kind] } }, 'auditEvents');
    await writing;
    await appendEvents(t, 5, { type: kind, realmId });
    const expected = await positionsOf(kind, BigInt(endCursor));
    expect(expected).toHaveLength(35);
    await first.waitForItems(35);
    expect(first.items.map((e) => e.cursor)).toEqual(expected);
    expect(first.items.map((e) => e.node.position)).toEqual(expected);
    first.stop();
    await Promise.all(clients.splice(0).map((c) => c.dispose()));

    const last = first.items.at(-1)!.cursor;
    await appendEvents(t, 20, { type: kind, realmId });
    const second = subscribeWs<Edge>(client(bearer(admin)), AUDIT, { after: last, filter: { types: [kind] } }, 'auditEvents');
    await second.waitForItems(20);
    // One more, live: had anything come twice, it would sit before this one.
    await appendEvents(t, 1, { type: kind, realmId });
    await second.waitForItems(21);
    expect(second.items.map((e) => e.cursor)).toEqual(await positionsOf(kind, BigInt(last)));
    expect(second.errors).toEqual([]);
  });

  it('streams live without a cursor, and over SSE with one', async () => {
    const kind = 'test.live';
    const live = subscribeWs<Edge>(client(bearer(admin)), AUDIT, { filter: { types: [kind] } }, 'auditEvents');
    // Started live: the events written before it is registered are not its; keep writing until one arrives.
    for (let i = 0; i < 50 && live.items.length === 0; i++) {
      await appendEvents(t, 1, { type: kind, realmId });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const firstSeen = live.items[0]!.cursor;
    await appendEvents(t, 3, { type: kind, realmId });
    const after = await positionsOf(kind, BigInt(firstSeen) - 1n);
    await live.waitForItems(after.length);
    expect(live.items.map((e) => e.cursor)).toEqual(after);

    const sse = subscribeSse<Edge>(t, AUDIT, { after: firstSeen, filter: { types: [kind] } }, 'auditEvents', { authorization: bearer(admin) });
    await appendEvents(t, 2, { type: kind, realmId });
    const expected = await positionsOf(kind, BigInt(firstSeen));
    await sse.waitForItems(expected.length);
    expect(sse.items.map((e) => e.cursor)).toEqual(expected);
    sse.stop();
  });

  it('keeps to the query’s rule: a tenant’s auditor sees only that tenant; an API key only its own', async () => {
    const kind = 'test.scoped';
    const auditor = await signUpUser(t);
    await seedMember(t, tenantA, auditor.userId, 'auditor');
    const { body } = await t.execute(CreateApiKeyDocument, { input: { tenantId: tenantA, displayName: 'audit feed', scopes: ['audit:read'] } }, owner.headers);
    const key = body.data!.createApiKey.key;

    const byAuditor = subscribeWs<Edge>(client(bearer(auditor)), AUDIT, { after: '0', filter: { tenantId: tenantA, types: [kind] } }, 'auditEvents');
    const byKey = subscribeWs<Edge>(client(`ApiKey ${key}`), AUDIT, { after: '0', filter: { tenantId: tenantA, types: [kind] } }, 'auditEvents');
    await appendEvents(t, 2, { type: kind, realmId, tenantId: tenantB });
    await appendEvents(t, 2, { type: kind, realmId, tenantId: tenantA });
    await appendEvents(t, 1, { type: kind, realmId });
    await byAuditor.waitForItems(2);
    await byKey.waitForItems(2);
    // Anything of tenant B or of the realm would have come before the last event of tenant A... or with this one.
    await appendEvents(t, 1, { type: kind, realmId, tenantId: tenantA });
    await byAuditor.waitForItems(3);
    await byKey.waitForItems(3);
    for (const s of [byAuditor, byKey]) {
      const rows = await t.app.db.prisma.event.findMany({ where: { id: { in: s.items.map((e) => e.node.id) } }, select: { tenantId: true } });
      expect(rows.map((row) => row.tenantId)).toEqual([tenantA, tenantA, tenantA]);
    }
  });

  it('refuses whoever the query refuses: anonymous, no audit:read, another tenant, the realm without being its admin, a key of another tenant', async () => {
    const member = await signUpUser(t);
    await seedMember(t, tenantA, member.userId, 'member');
    const { body } = await t.execute(CreateApiKeyDocument, { input: { tenantId: tenantA, displayName: 'tenant A key', scopes: ['audit:read'] } }, owner.headers);
    const keyA = body.data!.createApiKey.key;
    const cases: Array<[string | undefined, Record<string, unknown>, string]> = [
      [undefined, {}, 'unauthenticated'],
      [undefined, { filter: { tenantId: tenantA } }, 'unauthenticated'],
      [bearer(member), { filter: { tenantId: tenantA } }, 'forbidden'],
      [bearer(member), { filter: { tenantId: tenantB } }, 'not_found'],
      [bearer(owner), {}, 'forbidden'],
      [bearer(owner), { filter: { tenantId: tenantB } }, 'not_found'],
      [`ApiKey ${keyA}`, { filter: { tenantId: tenantB } }, 'not_found'],
      [`ApiKey ${keyA}`, {}, 'forbidden'],
      [bearer(admin), { after: 'not-a-cursor' }, 'bad_request'],
      [bearer(admin), { after: '9999999999999999999' }, 'bad_request'],
    ];
    for (const [authorization, variables, code] of cases) {
      const s = subscribeWs<Edge>(client(authorization), AUDIT, variables, 'auditEvents');
      expect(codes(await s.waitForEnd()), `${authorization?.slice(0, 6)} ${JSON.stringify(variables)}`).toEqual([code]);
      expect(s.items).toEqual([]);
    }
    const sse = subscribeSse<Edge>(t, AUDIT, { filter: { tenantId: tenantA } }, 'auditEvents', { authorization: bearer(member) });
    expect(codes(await sse.waitForEnd())).toEqual(['forbidden']);
  });

  it('closes the subscription of a subscriber who signs out, is suspended or loses audit:read, with that code', async () => {
    const [signsOut, suspended, demoted] = await Promise.all([signUpUser(t), signUpUser(t), signUpUser(t)]);
    for (const user of [signsOut, suspended, demoted]) await seedMember(t, tenantA, user.userId, 'auditor');
    await appendEvents(t, 1, { type: 'test.standing', realmId, tenantId: tenantA });
    const streams = [signsOut, suspended, demoted].map((user) =>
      subscribeWs<Edge>(client(bearer(user)), AUDIT, { after: '0', filter: { tenantId: tenantA, types: ['test.standing'] } }, 'auditEvents'),
    );
    // Each is streaming (it got the event) before its standing changes.
    await Promise.all(streams.map((s) => s.waitForItems(1)));
    expect((await t.execute(SignOutDocument, { input: { scope: 'LOCAL' } }, signsOut.headers)).body.errors).toBeUndefined();
    const status = await t.execute(UpdateUserStatusDocument, { input: { userId: suspended.userId, status: 'SUSPENDED' } }, admin.headers);
    expect(status.body.errors).toBeUndefined();
    const role = await t.app.db.prisma.role.findFirstOrThrow({ where: { realmId, name: 'member' } });
    await t.app.db.prisma.membership.updateMany({ where: { tenantId: tenantA, userId: demoted.userId }, data: { roleId: role.id } });

    const ends = await Promise.all(streams.map((s) => s.waitForEnd()));
    expect(ends.map(codes)).toEqual([['token_revoked'], ['account_suspended'], ['forbidden']]);
  });
});

describe('viewerSecurityEvents subscription', () => {
  it('streams the viewer’s own sign-ins from other sessions, never another user’s', async () => {
    const viewer = await signUpUser(t);
    const other = await signUpUser(t);
    const stream = subscribeWs<SecurityItem>(client(bearer(viewer)), SECURITY, { after: '0' }, 'viewerSecurityEvents');
    await stream.waitForItems(1);
    expect(stream.items[0]).toMatchObject({ type: 'user.signed_up', byViewer: true });

    await signIn(t, other);
    await signIn(t, viewer);
    await stream.waitForItems(2);
    const otherEvents = await t.app.db.prisma.event.findMany({ where: { aggregateId: other.userId }, select: { id: true } });
    expect(stream.items.map((e) => e.type)).toEqual(['user.signed_up', 'user.signed_in']);
    expect(stream.items.some((e) => otherEvents.some((o) => o.id === e.id))).toBe(false);
  });

  it('shows a suspension by an admin without the admin’s address, then closes with account_suspended', async () => {
    const viewer = await signUpUser(t);
    const stream = subscribeWs<SecurityItem>(client(bearer(viewer)), SECURITY, { after: '0' }, 'viewerSecurityEvents');
    await stream.waitForItems(1);
    await t.execute(UpdateUserStatusDocument, { input: { userId: viewer.userId, status: 'SUSPENDED' } }, admin.headers);
    expect(codes(await stream.waitForEnd())).toEqual(['account_suspended']);
    // The event that ended the stream is delivered before the error (the ban's user.sessions_revoked may follow it).
    const types = stream.items.map((e) => e.type);
    expect(types.slice(types.indexOf('user.status_changed') + 1).every((type) => type === 'user.sessions_revoked')).toBe(true);
    expect(stream.items.find((e) => e.type === 'user.status_changed')).toMatchObject({ byViewer: false, ip: null });
  });

  it('refuses anonymous callers and API keys', async () => {
    const { body } = await t.execute(CreateApiKeyDocument, { input: { tenantId: tenantA, displayName: 'no account', scopes: ['audit:read'] } }, owner.headers);
    const cases: Array<[string | undefined, string]> = [
      [undefined, 'unauthenticated'],
      [`ApiKey ${body.data!.createApiKey.key}`, 'forbidden'],
    ];
    for (const [authorization, code] of cases) {
      const s = subscribeWs<SecurityItem>(client(authorization), SECURITY, {}, 'viewerSecurityEvents');
      expect(codes(await s.waitForEnd())).toEqual([code]);
    }
  });
});

describe('a subscriber that falls behind', () => {
  let small: TestApp;
  beforeAll(async () => {
    small = await startTestApp({ env: { SUBSCRIPTION_BUFFER_LIMIT: '10', EVENT_POLL_INTERVAL_MS: '60000' } });
  });
  afterAll(() => small.close());

  it('is ended with subscription_overflow and its last cursor, and resumes from it with nothing lost', async () => {
    const kind = 'test.burst';
    const smallAdmin = await signInRealmAdmin(small);
    const smallRealm = await small.app.services.realms.defaultRealmId();
    const c = wsClient(small, bearer(smallAdmin));
    clients.push(c);
    const [ping] = await appendEvents(small, 1, { type: kind, realmId: smallRealm });
    const stream = subscribeWs<Edge>(c, AUDIT, { after: (ping! - 1n).toString(), filter: { types: [kind] } }, 'auditEvents');
    await stream.waitForItems(1);
    // Live from here on (the replay of one event is over); more than the buffer arrives in one batch.
    for (let i = 0; i < 3 && !stream.isEnded(); i++) {
      await appendEvents(small, 50, { type: kind, realmId: smallRealm }, { oneTransaction: true });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const errors = await stream.waitForEnd();
    expect(codes(errors)).toEqual(['subscription_overflow']);
    const resumeFrom = errors[0]!.extensions!.cursor as string;
    expect(errors[0]!.extensions!.reason).toBe('resume_from_cursor');
    expect(resumeFrom).toBe(stream.items.at(-1)!.cursor);

    const resumed = subscribeWs<Edge>(c, AUDIT, { after: resumeFrom, filter: { types: [kind] } }, 'auditEvents');
    const rows = await small.app.db.prisma.event.findMany({ where: { type: kind, position: { gt: BigInt(resumeFrom) } }, orderBy: { position: 'asc' } });
    await resumed.waitForItems(rows.length);
    expect(resumed.items.map((e) => e.cursor)).toEqual(rows.map((r) => r.position.toString()));
  });
});

describe.runIf(testDatabaseKind === 'postgres')('across replicas', () => {
  it('an event written on one app reaches a subscriber on another app on the same database', async () => {
    const database = await createTestDatabase();
    // No polling to speak of: only the database's notifications can carry the event across.
    const env = { EVENT_POLL_INTERVAL_MS: '60000' };
    const a = await startTestApp({ database, env });
    const b = await startTestApp({ database, env });
    try {
      const adminOnA = await signInRealmAdmin(a);
      const kind = 'test.replicated';
      const bRealm = await b.app.services.realms.defaultRealmId();

      // The tail of B, registered before A writes: what it gets was notified, not replayed.
      const seenByTail: string[] = [];
      const registration = await b.app.services.eventLogTail.subscribe((events) => seenByTail.push(...events.filter((e) => e.type === kind).map((e) => e.id)));
      const c = wsClient(b, bearer(adminOnA));
      clients.push(c);
      const stream = subscribeWs<Edge>(c, AUDIT, { after: registration.position.toString(), filter: { types: [kind] } }, 'auditEvents');
      await appendEvents(a, 3, { type: kind, realmId: bRealm });
      await stream.waitForItems(3);
      await waitUntil(() => seenByTail.length === 3, () => `B's tail saw ${seenByTail.length} of 3`);
      registration.unsubscribe();
      expect(stream.items.map((e) => e.node.id)).toEqual(seenByTail);
      expect(stream.items.map((e) => e.cursor)).toEqual(await positionsOf(kind, 0n, a));
    } finally {
      await Promise.all(clients.splice(0).map((x) => x.dispose()));
      await b.close();
      await a.close();
      await database.drop();
    }
  });
});

describe('shutting down', () => {
  it('ends open subscriptions with a code to resume from instead of holding the shutdown', async () => {
    const app = await startTestApp();
    const appAdmin = await signInRealmAdmin(app);
    const appRealm = await app.app.services.realms.defaultRealmId();
    const [first] = await appendEvents(app, 1, { type: 'test.shutdown', realmId: appRealm });
    const sse = subscribeSse<Edge>(app, AUDIT, { after: (first! - 1n).toString(), filter: { types: ['test.shutdown'] } }, 'auditEvents', {
      authorization: bearer(appAdmin),
    });
    await sse.waitForItems(1);
    await app.close();
    const errors = await sse.waitForEnd();
    expect(errors.map((e) => e.extensions)).toEqual([expect.objectContaining({ code: 'unavailable', reason: 'resume_from_cursor', cursor: first!.toString() })]);
  });
});
