import { createHash } from 'node:crypto';
import type { ResultOf } from '@graphql-typed-document-node/core';
import type { ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevNotifier, type Notifier } from '../../src/identity/notifier.js';
import type { Caller } from '../../src/services/caller.js';
import {
  AcceptInvitationDocument,
  CreateInvitationDocument,
  InvitationsDocument,
  InvitationTypeFieldsDocument,
  RevokeInvitationDocument,
  UpdateRoleDocument,
} from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { lastMessage, uniqueEmail } from '../helpers/auth.js';
import { seedMember, seedRole, seedTenant, signIn, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

// Invitations through GraphQL: create, list, revoke, accept, with every refusal.

const DAY_MS = 24 * 60 * 60 * 1000;
let clockOffsetMs = 0;
let failDelivery = false;

let t: TestApp;
let owner: SignedIn;
let inviter: SignedIn;
let reader: SignedIn;
let outsider: SignedIn;
let admin: SignedIn;
let tenantId: string;
let realmId: string;
/** Every token handed out: none may reach an event or a log line. */
const tokens: string[] = [];

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const errorOf = (body: ExecutionResult<unknown>) => body.errors?.[0]?.extensions;
const prisma = () => t.app.db.prisma;
const eventOf = (aggregateId: string, type: string) => prisma().event.findFirstOrThrow({ where: { aggregateId, type } });

/** What a refused operation must leave untouched. */
async function snapshot() {
  const db = prisma();
  const [invitations, events, memberships] = await Promise.all([
    db.invitation.findMany({ select: { id: true, status: true, tokenHash: true }, orderBy: { id: 'asc' } }),
    db.event.count(),
    db.membership.count(),
  ]);
  return { invitations, events, memberships };
}

async function invite(as: SignedIn, input: { email?: string; role?: string; expiresInDays?: number; tenantId?: string } = {}) {
  const { body } = await t.execute(
    CreateInvitationDocument,
    { input: { tenantId, email: uniqueEmail('invitee'), role: 'member', ...input } },
    as.headers,
  );
  expect(body.errors).toBeUndefined();
  const created = body.data!.createInvitation;
  tokens.push(created.token);
  return created;
}

async function withClockAt(offsetMs: number, fn: () => Promise<void>) {
  clockOffsetMs = offsetMs;
  try {
    await fn();
  } finally {
    clockOffsetMs = 0;
  }
}

beforeAll(async () => {
  // The dev notifier, unless a test makes delivery fail.
  const notifier: Notifier = {
    send: (message) =>
      failDelivery ? Promise.reject(new Error('smtp unavailable')) : createDevNotifier(t.app.db.prisma, (text) => t.printed.push(text)).send(message),
  };
  t = await startTestApp({ clock: () => Date.now() + clockOffsetMs, notifier });
  [owner, inviter, reader, outsider] = await Promise.all([signUpUser(t), signUpUser(t), signUpUser(t), signUpUser(t)]);
  admin = await signInRealmAdmin(t);
  realmId = await t.app.services.realms.defaultRealmId();
  tenantId = (await seedTenant(t, owner.userId)).id;
  await seedTenant(t, outsider.userId);
  await seedRole(t, 'inviter', ['tenant:read', 'invitations:manage']);
  await seedRole(t, 'reader', ['tenant:read']);
  await seedMember(t, tenantId, inviter.userId, 'inviter');
  await seedMember(t, tenantId, reader.userId, 'reader');
});
afterAll(() => t.close());

describe('createInvitation', () => {
  it('stores only the token’s hash, appends invitation.created and mails the accept link', async () => {
    const email = uniqueEmail('ada');
    const before = Date.now() + clockOffsetMs;
    const created = await invite(owner, { email: email.toUpperCase() });
    const after = Date.now() + clockOffsetMs;

    expect(created.delivered).toBe(true);
    expect(created.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(created.invitation).toMatchObject({ email, status: 'PENDING', invitedBy: { id: owner.userId }, role: { name: 'member' } });
    const expiresAt = Date.parse(created.invitation.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 7 * DAY_MS);
    expect(expiresAt).toBeLessThanOrEqual(after + 7 * DAY_MS);

    const row = await prisma().invitation.findUniqueOrThrow({ where: { id: created.invitation.id } });
    expect(row).toMatchObject({ tenantId, email, status: 'pending', invitedById: owner.userId, tokenHash: sha256(created.token) });
    expect(JSON.stringify(row)).not.toContain(created.token);

    const events = await prisma().event.findMany({ where: { aggregateId: created.invitation.id } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      aggregateType: 'invitation',
      type: 'invitation.created',
      realmId,
      tenantId,
      payload: { email, role: 'member', expiresAt: row.expiresAt.toISOString() },
      metadata: { actorId: owner.userId },
    });

    const message = await lastMessage(t, email);
    expect(message.kind).toBe('invite');
    expect(message.body).toContain(`${t.app.config.auth.siteUrl}/?invitation=${created.token}`);
  });

  it('expiresInDays sets the expiry; a role granting invitations:manage and a realm admin may invite', async () => {
    const before = Date.now() + clockOffsetMs;
    const byInviter = await invite(inviter, { expiresInDays: 30, role: 'reader' });
    expect(Date.parse(byInviter.invitation.expiresAt)).toBeGreaterThanOrEqual(before + 30 * DAY_MS);
    expect(Date.parse(byInviter.invitation.expiresAt)).toBeLessThan(before + 31 * DAY_MS);
    expect(byInviter.invitation).toMatchObject({ role: { name: 'reader' }, invitedBy: { id: inviter.userId } });
    const byAdmin = await invite(admin, { expiresInDays: 1 });
    expect(byAdmin.invitation.invitedBy?.id).toBe(admin.userId);
  });

  it('a second invitation for a pending address replaces the first (revoked, with an event)', async () => {
    const email = uniqueEmail('twice');
    const first = await invite(owner, { email });
    const second = await invite(inviter, { email, role: 'reader' });
    const rows = await prisma().invitation.findMany({ where: { tenantId, email }, orderBy: { createdAt: 'asc' } });
    expect(rows.map((r) => [r.id, r.status])).toEqual([
      [first.invitation.id, 'revoked'],
      [second.invitation.id, 'pending'],
    ]);
    const revoked = await eventOf(first.invitation.id, 'invitation.revoked');
    expect(revoked).toMatchObject({ tenantId, realmId, payload: { email, reason: 'replaced', replacedBy: second.invitation.id } });
    // The first token no longer works.
    const invitee = await signUpUser(t, email);
    const { body } = await t.execute(AcceptInvitationDocument, { input: { token: first.token } }, invitee.headers);
    expect(errorOf(body)).toMatchObject({ code: 'conflict', reason: 'invitation_revoked' });
  });

  it('an address that already belongs to a member is a conflict (already_member); nothing is written', async () => {
    const before = await snapshot();
    const { body } = await t.execute(CreateInvitationDocument, { input: { tenantId, email: reader.email.toUpperCase(), role: 'member' } }, owner.headers);
    expect(errorOf(body)).toMatchObject({ code: 'conflict', reason: 'already_member' });
    expect(await snapshot()).toEqual(before);
  });

  it('bad input names the field; owner is refused; an unknown role is not_found; nothing is written', async () => {
    const valid = { tenantId, email: uniqueEmail('bad'), role: 'member', expiresInDays: 7 };
    const cases: Array<[Partial<typeof valid>, string, string]> = [
      [{ tenantId: 'not-an-id' }, 'bad_request', 'tenantId'],
      [{ email: 'not an email' }, 'bad_request', 'email'],
      [{ email: '' }, 'bad_request', 'email'],
      [{ role: 'Not A Role!' }, 'bad_request', 'role'],
      [{ role: 'owner' }, 'bad_request', 'role'],
      [{ role: 'ghost' }, 'not_found', 'role'],
      [{ expiresInDays: 0 }, 'bad_request', 'expiresInDays'],
      [{ expiresInDays: 31 }, 'bad_request', 'expiresInDays'],
      [{ expiresInDays: -3 }, 'bad_request', 'expiresInDays'],
    ];
    const before = await snapshot();
    for (const [change, code, field] of cases) {
      const { body } = await t.execute(CreateInvitationDocument, { input: { ...valid, ...change } }, owner.headers);
      expect(errorOf(body), JSON.stringify(change)).toMatchObject({ code, field });
    }
    expect(await snapshot()).toEqual(before);
  });

  it('refuses the anonymous, members of another tenant and members without invitations:manage; nothing is written', async () => {
    const input = { tenantId, email: uniqueEmail('denied'), role: 'member' };
    const before = await snapshot();
    expect(errorOf((await t.execute(CreateInvitationDocument, { input })).body)?.code).toBe('unauthenticated');
    expect(errorOf((await t.execute(CreateInvitationDocument, { input }, outsider.headers)).body)?.code).toBe('not_found');
    expect(errorOf((await t.execute(CreateInvitationDocument, { input }, reader.headers)).body)).toMatchObject({
      code: 'forbidden',
      permission: 'invitations:manage',
    });
    expect(await snapshot()).toEqual(before);
    await expect(lastMessage(t, input.email)).rejects.toThrow('no message');
  });

  it('an inviter cannot grant permissions they lack, built-in or the realm’s own (forbidden); nothing is written', async () => {
    await seedRole(t, 'auditor', ['tenant:read', 'audit:read', 'reports:export']);
    await seedRole(t, 'exporter', ['tenant:read', 'reports:export']);
    const before = await snapshot();
    const { body } = await t.execute(CreateInvitationDocument, { input: { tenantId, email: uniqueEmail('up'), role: 'auditor' } }, inviter.headers);
    expect(errorOf(body)).toMatchObject({ code: 'forbidden', field: 'role', reason: 'role_exceeds_permissions', permissions: ['audit:read', 'reports:export'] });
    const custom = await t.execute(CreateInvitationDocument, { input: { tenantId, email: uniqueEmail('up'), role: 'exporter' } }, inviter.headers);
    expect(errorOf(custom.body)).toMatchObject({ code: 'forbidden', reason: 'role_exceeds_permissions', permissions: ['reports:export'] });
    expect(await snapshot()).toEqual(before);
    // The owner holds every built-in permission and decides who gets the realm's own strings.
    expect((await invite(owner, { role: 'auditor' })).invitation.role.name).toBe('auditor');
  });

  it('a failed delivery keeps the invitation and reports delivered: false', async () => {
    failDelivery = true;
    try {
      const email = uniqueEmail('undelivered');
      const created = await invite(owner, { email });
      expect(created.delivered).toBe(false);
      expect(await prisma().invitation.findUniqueOrThrow({ where: { id: created.invitation.id } })).toMatchObject({ status: 'pending' });
      expect(await prisma().event.count({ where: { aggregateId: created.invitation.id, type: 'invitation.created' } })).toBe(1);
      expect(t.logs.lines.some((line) => line.msg === 'invitation email not delivered' && line.invitationId === created.invitation.id)).toBe(true);
    } finally {
      failDelivery = false;
    }
  });

  it.skipIf(process.env.IDGRAPH_TEST_DB !== 'postgres')('concurrent invitations for one address leave exactly one pending', async () => {
    const email = uniqueEmail('race');
    const results = await Promise.all(
      Array.from({ length: 10 }, () => t.execute(CreateInvitationDocument, { input: { tenantId, email, role: 'member' } }, owner.headers)),
    );
    for (const { body } of results) {
      expect(body.errors).toBeUndefined();
      tokens.push(body.data!.createInvitation.token);
    }
    expect(await prisma().invitation.count({ where: { tenantId, email, status: 'pending' } })).toBe(1);
    expect(await prisma().invitation.count({ where: { tenantId, email, status: 'revoked' } })).toBe(9);
  });
});

describe('invitations', () => {
  it('lists a tenant’s invitations newest first, filtered by status, one page at a time', async () => {
    const { id: listTenantId } = await seedTenant(t, owner.userId);
    const created = [];
    for (const email of [uniqueEmail('l1'), uniqueEmail('l2'), uniqueEmail('l3')]) created.push(await invite(owner, { email, tenantId: listTenantId }));
    await t.execute(RevokeInvitationDocument, { input: { invitationId: created[0]!.invitation.id } }, owner.headers);

    let all!: Awaited<ReturnType<typeof t.execute<ResultOf<typeof InvitationsDocument>, { tenantId: string }>>>;
    const statements = await t.countStatements(async () => {
      all = await t.execute(InvitationsDocument, { tenantId: listTenantId }, owner.headers);
    });
    // The viewer check, the access decision, one query for the page with its roles, one for its inviters: no N+1.
    expect(statements).toBe(4);
    expect(all.body.errors).toBeUndefined();
    expect(all.body.data!.invitations.edges.map((e) => e.node.id)).toEqual(created.map((c) => c.invitation.id).reverse());

    const page1 = await t.execute(InvitationsDocument, { tenantId: listTenantId, first: 2 }, owner.headers);
    expect(page1.body.data!.invitations.pageInfo.hasNextPage).toBe(true);
    const page2 = await t.execute(InvitationsDocument, { tenantId: listTenantId, first: 2, after: page1.body.data!.invitations.pageInfo.endCursor }, owner.headers);
    expect([...page1.body.data!.invitations.edges, ...page2.body.data!.invitations.edges].map((e) => e.node.id)).toEqual(
      all.body.data!.invitations.edges.map((e) => e.node.id),
    );
    expect(page2.body.data!.invitations.pageInfo.hasNextPage).toBe(false);

    const revoked = await t.execute(InvitationsDocument, { tenantId: listTenantId, status: 'REVOKED' }, inviter.headers);
    expect(revoked.body.errors?.[0]?.extensions?.code).toBe('not_found'); // the inviter is no member of this tenant
    const revokedByOwner = await t.execute(InvitationsDocument, { tenantId: listTenantId, status: 'REVOKED' }, owner.headers);
    expect(revokedByOwner.body.data!.invitations.edges.map((e) => [e.node.id, e.node.status])).toEqual([[created[0]!.invitation.id, 'REVOKED']]);
    const pending = await t.execute(InvitationsDocument, { tenantId: listTenantId, status: 'PENDING' }, owner.headers);
    expect(pending.body.data!.invitations.edges).toHaveLength(2);
  });

  it('EXPIRED is computed from expiresAt with the injected clock, and filterable', async () => {
    const { id: expiryTenantId } = await seedTenant(t, owner.userId);
    const short = await invite(owner, { tenantId: expiryTenantId, expiresInDays: 1 });
    const long = await invite(owner, { tenantId: expiryTenantId, expiresInDays: 3 });
    await withClockAt(2 * DAY_MS, async () => {
      const later = await signIn(t, owner);
      const expired = await t.execute(InvitationsDocument, { tenantId: expiryTenantId, status: 'EXPIRED' }, later.headers);
      expect(expired.body.data!.invitations.edges.map((e) => [e.node.id, e.node.status])).toEqual([[short.invitation.id, 'EXPIRED']]);
      const pending = await t.execute(InvitationsDocument, { tenantId: expiryTenantId, status: 'PENDING' }, later.headers);
      expect(pending.body.data!.invitations.edges.map((e) => [e.node.id, e.node.status])).toEqual([[long.invitation.id, 'PENDING']]);
    });
  });

  it('refuses the anonymous, members of another tenant, members without invitations:manage and bad ids', async () => {
    expect(errorOf((await t.execute(InvitationsDocument, { tenantId })).body)?.code).toBe('unauthenticated');
    expect(errorOf((await t.execute(InvitationsDocument, { tenantId }, outsider.headers)).body)?.code).toBe('not_found');
    expect(errorOf((await t.execute(InvitationsDocument, { tenantId }, reader.headers)).body)?.code).toBe('forbidden');
    expect(errorOf((await t.execute(InvitationsDocument, { tenantId: 'nope' }, owner.headers)).body)).toMatchObject({ code: 'bad_request', field: 'tenantId' });
    const asInviter = await t.execute(InvitationsDocument, { tenantId, first: 1 }, inviter.headers);
    expect(asInviter.body.data!.invitations.edges).toHaveLength(1);
  });

  it('the Invitation type has no field for the token or its hash', async () => {
    const { body } = await t.execute(InvitationTypeFieldsDocument);
    const names = body.data!.__type!.fields!.map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['id', 'email', 'role', 'status', 'expiresAt', 'createdAt', 'invitedBy']));
    expect(names.filter((n) => /token|hash/i.test(n))).toEqual([]);
  });
});

describe('revokeInvitation', () => {
  it('revokes a pending invitation and appends invitation.revoked; revoking again is a conflict', async () => {
    const created = await invite(inviter);
    const { body } = await t.execute(RevokeInvitationDocument, { input: { invitationId: created.invitation.id } }, inviter.headers);
    expect(body.errors).toBeUndefined();
    expect(body.data!.revokeInvitation.invitation).toMatchObject({ id: created.invitation.id, status: 'REVOKED' });
    const row = await prisma().invitation.findUniqueOrThrow({ where: { id: created.invitation.id } });
    expect(row.status).toBe('revoked');
    expect(row.revokedAt).not.toBeNull();
    expect(await eventOf(created.invitation.id, 'invitation.revoked')).toMatchObject({
      aggregateType: 'invitation',
      realmId,
      tenantId,
      payload: { email: created.invitation.email, reason: 'revoked' },
      metadata: { actorId: inviter.userId },
    });

    const before = await snapshot();
    const again = await t.execute(RevokeInvitationDocument, { input: { invitationId: created.invitation.id } }, owner.headers);
    expect(errorOf(again.body)).toMatchObject({ code: 'conflict', reason: 'invitation_revoked' });
    expect(await snapshot()).toEqual(before);
  });

  it('an accepted invitation cannot be revoked (invitation_accepted)', async () => {
    const email = uniqueEmail('kept');
    const created = await invite(owner, { email });
    const invitee = await signUpUser(t, email);
    expect((await t.execute(AcceptInvitationDocument, { input: { token: created.token } }, invitee.headers)).body.errors).toBeUndefined();
    const { body } = await t.execute(RevokeInvitationDocument, { input: { invitationId: created.invitation.id } }, owner.headers);
    expect(errorOf(body)).toMatchObject({ code: 'conflict', reason: 'invitation_accepted' });
  });

  it('refuses the anonymous, other tenants, members without the permission, unknown and malformed ids; nothing is written', async () => {
    const created = await invite(owner);
    const input = { invitationId: created.invitation.id };
    const before = await snapshot();
    expect(errorOf((await t.execute(RevokeInvitationDocument, { input })).body)?.code).toBe('unauthenticated');
    expect(errorOf((await t.execute(RevokeInvitationDocument, { input }, outsider.headers)).body)?.code).toBe('not_found');
    expect(errorOf((await t.execute(RevokeInvitationDocument, { input }, reader.headers)).body)?.code).toBe('forbidden');
    const unknown = { invitationId: '00000000-0000-4000-8000-000000000000' };
    expect(errorOf((await t.execute(RevokeInvitationDocument, { input: unknown }, owner.headers)).body)?.code).toBe('not_found');
    const malformed = { invitationId: 'x' };
    expect(errorOf((await t.execute(RevokeInvitationDocument, { input: malformed }, owner.headers)).body)).toMatchObject({
      code: 'bad_request',
      field: 'invitationId',
    });
    expect(await snapshot()).toEqual(before);
  });
});

describe('acceptInvitation', () => {
  it('creates the membership with the invited role and appends invitation.accepted and member.added', async () => {
    const email = uniqueEmail('joiner');
    const created = await invite(inviter, { email: email.toUpperCase(), role: 'reader' });
    const invitee = await signUpUser(t, email);
    const { body } = await t.execute(AcceptInvitationDocument, { input: { token: created.token } }, invitee.headers);
    expect(body.errors).toBeUndefined();
    expect(body.data!.acceptInvitation).toMatchObject({
      invitation: { id: created.invitation.id, status: 'ACCEPTED' },
      membership: { tenant: { id: tenantId }, role: { name: 'reader' } },
    });
    const membership = await prisma().membership.findUniqueOrThrow({
      where: { userId_tenantId: { userId: invitee.userId, tenantId } },
      include: { role: true },
    });
    expect(membership.role.name).toBe('reader');
    const row = await prisma().invitation.findUniqueOrThrow({ where: { id: created.invitation.id } });
    expect(row).toMatchObject({ status: 'accepted', acceptedById: invitee.userId });
    expect(row.acceptedAt).not.toBeNull();

    expect(await eventOf(created.invitation.id, 'invitation.accepted')).toMatchObject({
      aggregateType: 'invitation',
      realmId,
      tenantId,
      payload: { email, role: 'reader', userId: invitee.userId },
      metadata: { actorId: invitee.userId },
    });
    const added = await prisma().event.findFirstOrThrow({ where: { aggregateId: tenantId, type: 'member.added', payload: { path: ['userId'], equals: invitee.userId } } });
    expect(added).toMatchObject({ aggregateType: 'tenant', realmId, tenantId, payload: { userId: invitee.userId, role: 'reader', via: 'invitation' } });
  });

  it('a used token is invitation_accepted; unknown is not_found; malformed is bad_request; anonymous is unauthenticated', async () => {
    const email = uniqueEmail('once');
    const created = await invite(owner, { email });
    const invitee = await signUpUser(t, email);
    expect((await t.execute(AcceptInvitationDocument, { input: { token: created.token } }, invitee.headers)).body.errors).toBeUndefined();

    const before = await snapshot();
    const again = await t.execute(AcceptInvitationDocument, { input: { token: created.token } }, invitee.headers);
    expect(errorOf(again.body)).toMatchObject({ code: 'conflict', reason: 'invitation_accepted' });
    const unknown = await t.execute(AcceptInvitationDocument, { input: { token: 'A'.repeat(43) } }, invitee.headers);
    expect(errorOf(unknown.body)?.code).toBe('not_found');
    const malformed = await t.execute(AcceptInvitationDocument, { input: { token: 'short' } }, invitee.headers);
    expect(errorOf(malformed.body)).toMatchObject({ code: 'bad_request', field: 'token' });
    const anonymous = await t.execute(AcceptInvitationDocument, { input: { token: created.token } });
    expect(errorOf(anonymous.body)?.code).toBe('unauthenticated');
    expect(await snapshot()).toEqual(before);
  });

  it('expired, revoked, another email, an unverified email, an existing member and a deleted tenant are refused; nothing is written', async () => {
    const db = prisma();
    const expiring = await invite(owner, { expiresInDays: 1 });
    const revoked = await invite(owner);
    await t.execute(RevokeInvitationDocument, { input: { invitationId: revoked.invitation.id } }, owner.headers);
    const mismatched = await invite(owner);
    const unverified = await invite(owner);
    const member = await invite(owner);
    const { id: doomedTenantId } = await seedTenant(t, owner.userId);
    const orphaned = await invite(owner, { tenantId: doomedTenantId });

    const [expiringUser, revokedUser, unverifiedUser, memberUser, orphanedUser] = await Promise.all(
      [expiring, revoked, unverified, member, orphaned].map((c) => signUpUser(t, c.invitation.email)),
    );
    await db.authUser.update({ where: { id: unverifiedUser!.userId }, data: { emailConfirmedAt: null } });
    await seedMember(t, tenantId, memberUser!.userId, 'member');
    await db.tenant.update({ where: { id: doomedTenantId }, data: { deletedAt: new Date() } });

    const accept = (token: string, as: SignedIn) => t.execute(AcceptInvitationDocument, { input: { token } }, as.headers).then((r) => errorOf(r.body));
    const before = await snapshot();
    expect(await accept(revoked.token, revokedUser!)).toMatchObject({ code: 'conflict', reason: 'invitation_revoked' });
    expect(await accept(mismatched.token, outsider)).toMatchObject({ code: 'forbidden', reason: 'email_mismatch' });
    expect(await accept(unverified.token, unverifiedUser!)).toMatchObject({ code: 'forbidden', reason: 'email_unverified' });
    expect(await accept(member.token, memberUser!)).toMatchObject({ code: 'conflict', reason: 'already_member' });
    expect(await accept(orphaned.token, orphanedUser!)).toMatchObject({ code: 'not_found' });
    await withClockAt(2 * DAY_MS, async () => {
      const later = await signIn(t, expiringUser!);
      expect(await accept(expiring.token, later)).toMatchObject({ code: 'conflict', reason: 'invitation_expired' });
    });
    const after = await snapshot();
    // signIn above appended user.signed_in; nothing else may have been written.
    expect(after.events - before.events).toBe(1);
    expect({ ...after, events: before.events }).toEqual(before);
  });

  it('a role widened after the invitation was sent is refused at acceptance unless the inviter could grant it now', async () => {
    await seedRole(t, 'helper', ['tenant:read']);
    const [email, ownersEmail] = [uniqueEmail('widened'), uniqueEmail('widened-owner')];
    const byInviter = await invite(inviter, { email, role: 'helper' });
    const byOwner = await invite(owner, { email: ownersEmail, role: 'helper' });
    const widened = await t.execute(UpdateRoleDocument, { input: { name: 'helper', permissions: ['tenant:read', 'apikeys:manage'] } }, admin.headers);
    expect(widened.body.errors).toBeUndefined();
    const invitee = await signUpUser(t, email);
    const before = await snapshot();
    const { body } = await t.execute(AcceptInvitationDocument, { input: { token: byInviter.token } }, invitee.headers);
    expect(errorOf(body)).toMatchObject({ code: 'forbidden', reason: 'role_exceeds_permissions', permissions: ['apikeys:manage'] });
    expect(await snapshot()).toEqual(before);
    // The owner could grant the wider role today: their invitation stands.
    const ownersInvitee = await signUpUser(t, ownersEmail);
    const accepted = await t.execute(AcceptInvitationDocument, { input: { token: byOwner.token } }, ownersInvitee.headers);
    expect(accepted.body.errors).toBeUndefined();
  });

  it('an invitation from someone who has since lost invitations:manage (removed, demoted) is refused at acceptance', async () => {
    const sender = await signUpUser(t);
    await seedMember(t, tenantId, sender.userId, 'inviter');
    const email = uniqueEmail('orphan-invite');
    const created = await invite(sender, { email, role: 'reader' });
    await prisma().membership.delete({ where: { userId_tenantId: { userId: sender.userId, tenantId } } });
    const invitee = await signUpUser(t, email);
    const before = await snapshot();
    const { body } = await t.execute(AcceptInvitationDocument, { input: { token: created.token } }, invitee.headers);
    expect(errorOf(body)).toMatchObject({ code: 'forbidden', reason: 'role_exceeds_permissions' });
    expect(await snapshot()).toEqual(before);
  });

  it('an API-key caller cannot accept (forbidden), even for its owner’s address', async () => {
    const email = uniqueEmail('keyed');
    const created = await invite(owner, { email });
    const keyOwner = await signUpUser(t, email);
    const viewer = await t.app.resolveViewer(`Bearer ${keyOwner.accessToken}`);
    const caller: Caller = {
      viewer: { ...viewer!, apiKey: { id: 'key-1', tenantId, scopes: ['tenant:read'] } },
      accessToken: keyOwner.accessToken,
      meta: { ip: null, userAgent: null },
    };
    await expect(t.app.services.invitations.accept({ token: created.token }, caller)).rejects.toMatchObject({ code: 'forbidden', extensions: { reason: 'api_key' } });
    expect(await prisma().invitation.findUniqueOrThrow({ where: { id: created.invitation.id } })).toMatchObject({ status: 'pending' });
  });

  it.skipIf(process.env.IDGRAPH_TEST_DB !== 'postgres')('20 parallel accepts of one token create exactly one membership', async () => {
    const email = uniqueEmail('parallel');
    const created = await invite(owner, { email });
    const invitee = await signUpUser(t, email);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => t.execute(AcceptInvitationDocument, { input: { token: created.token } }, invitee.headers)),
    );
    const succeeded = results.filter((r) => !r.body.errors);
    expect(succeeded).toHaveLength(1);
    for (const { body } of results.filter((r) => r.body.errors)) expect(errorOf(body)).toMatchObject({ code: 'conflict', reason: 'invitation_accepted' });
    expect(await prisma().membership.count({ where: { userId: invitee.userId, tenantId } })).toBe(1);
    expect(await prisma().event.count({ where: { aggregateId: created.invitation.id, type: 'invitation.accepted' } })).toBe(1);
    expect(await prisma().event.count({ where: { aggregateId: tenantId, type: 'member.added', payload: { path: ['userId'], equals: invitee.userId } } })).toBe(1);
  });
});

describe('secrecy', () => {
  it('no token nor its hash appears in an event or a log line', async () => {
    expect(tokens.length).toBeGreaterThan(10);
    const events = JSON.stringify(await prisma().event.findMany({ select: { payload: true, metadata: true } }));
    const logs = t.logs.text();
    for (const token of tokens) {
      expect(events).not.toContain(token);
      expect(events).not.toContain(sha256(token));
      expect(logs).not.toContain(token);
    }
  });
});
