import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { uniqueEmail } from '../helpers/auth.js';
import { seedMember, seedTenant, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

// totalCount on every connection, counted only when selected; the object references
// (AuditEvent.actor/tenant, Invitation.invitedBy) read in one statement per type, whatever the page size.

let t: TestApp;
let admin: SignedIn;
let owner: SignedIn;
let outsider: SignedIn;
let tenantId: string;
let otherTenantId: string;
let endpointId: string;
const members: SignedIn[] = [];

// biome-ignore lint/suspicious/noExplicitAny: ad-hoc documents, the shapes are asserted field by field.
const gql = (source: string) => parse(source) as TypedDocumentNode<any, Record<string, unknown>>;

async function run(source: string, headers: Record<string, string>, variables: Record<string, unknown> = {}) {
  const { body } = await t.execute(gql(source), variables, headers);
  return body;
}

beforeAll(async () => {
  t = await startTestApp();
  admin = await signInRealmAdmin(t);
  [owner, outsider] = await Promise.all([signUpUser(t), signUpUser(t)]);
  tenantId = (await seedTenant(t, owner.userId, 'Counted Alpha')).id;
  otherTenantId = (await seedTenant(t, outsider.userId, 'Counted Beta')).id;
  for (let i = 0; i < 3; i++) {
    const member = await signUpUser(t);
    members.push(member);
    await seedMember(t, tenantId, member.userId, 'member');
  }
  // Invitations by two different inviters: the owner through GraphQL, the admin's written as a fixture.
  for (let i = 0; i < 3; i++) {
    const body = await run(
      'mutation($input: CreateInvitationInput!) { createInvitation(input: $input) { invitation { id } } }',
      owner.headers,
      { input: { tenantId, email: uniqueEmail('invitee'), role: 'member' } },
    );
    expect(body.errors).toBeUndefined();
  }
  const realmId = await t.app.services.realms.defaultRealmId();
  const member = await t.app.db.prisma.role.findUniqueOrThrow({ where: { realmId_name: { realmId, name: 'member' } } });
  await t.app.db.prisma.invitation.create({
    data: { tenantId, email: uniqueEmail('invitee'), roleId: member.id, tokenHash: crypto.randomUUID(), invitedById: admin.userId, expiresAt: new Date(Date.now() + 86_400_000) },
  });
  endpointId = (await t.app.db.prisma.webhookEndpoint.create({ data: { realmId, tenantId, url: 'https://hooks.example.com/a', secret: 'whsec_fixture', eventTypes: [] } })).id;
});
afterAll(() => t.close());

/** Each connection, a caller who may list it, and how many items it holds. */
const cases = () => [
  { field: 'tenants', args: '', headers: owner.headers, total: 1 },
  { field: 'tenants', args: '(filter: { displayName: "counted" })', headers: admin.headers, total: 2 },
  { field: 'members', args: `(tenantId: "${tenantId}")`, headers: owner.headers, total: 4 },
  { field: 'invitations', args: `(tenantId: "${tenantId}")`, headers: owner.headers, total: 4 },
  { field: 'invitations', args: `(tenantId: "${tenantId}", status: REVOKED)`, headers: owner.headers, total: 0 },
  { field: 'apiKeys', args: `(tenantId: "${tenantId}")`, headers: owner.headers, total: 0 },
  { field: 'domains', args: `(tenantId: "${tenantId}")`, headers: owner.headers, total: 0 },
  { field: 'webhookEndpoints', args: `(tenantId: "${tenantId}")`, headers: owner.headers, total: 1 },
  { field: 'webhookDeliveries', args: `(endpointId: "${endpointId}")`, headers: owner.headers, total: 0 },
  { field: 'origins', args: '', headers: admin.headers, total: 0 },
  { field: 'auditEvents', args: `(filter: { tenantId: "${tenantId}", types: ["invitation.created"] })`, headers: owner.headers, total: 3 },
];

describe('connections: totalCount', () => {
  it('costs no statement unless selected, and exactly one when it is; it counts what the filter and the caller allow', async () => {
    for (const { field, args, headers, total } of cases()) {
      const page = `${field}${args.replace(/^\((.*)\)$/, '($1, first: 2)') || '(first: 2)'}`;
      const without = await t.countStatements(() => run(`{ ${page} { edges { cursor } } }`, headers));
      let counted: Record<string, { totalCount: number; edges: unknown[] }> | undefined;
      const withCount = await t.countStatements(async () => {
        const body = await run(`{ ${page} { totalCount edges { cursor } } }`, headers);
        expect(body.errors, field).toBeUndefined();
        counted = body.data;
      });
      expect(withCount, `${field}${args}`).toBe(without + 1);
      expect(counted![field]!.totalCount, `${field}${args}`).toBe(total);
      expect(counted![field]!.edges.length, `${field}${args}`).toBe(Math.min(2, total));
    }
  });

  it('Tenant.members counts in the statement that reads the tenant', async () => {
    const query = (selection: string) => `{ tenants(first: 5) { edges { node { members(first: 1) { ${selection} } } } } }`;
    const without = await t.countStatements(() => run(query('edges { cursor }'), owner.headers));
    let body: Awaited<ReturnType<typeof run>> | undefined;
    const withCount = await t.countStatements(async () => {
      body = await run(query('totalCount edges { cursor }'), owner.headers);
    });
    expect(withCount).toBeLessThanOrEqual(without + 1);
    expect(body?.data?.tenants.edges[0].node.members.totalCount).toBe(4);
  });

  it('a caller who may not list a connection gets no count either', async () => {
    for (const source of [
      `{ members(tenantId: "${tenantId}") { totalCount } }`,
      `{ invitations(tenantId: "${tenantId}") { totalCount } }`,
      `{ auditEvents(filter: { tenantId: "${tenantId}" }) { totalCount } }`,
      '{ origins { totalCount } }',
    ]) {
      const body = await run(source, outsider.headers);
      expect(body.data, source).toBeNull();
      expect(['forbidden', 'not_found'], source).toContain(body.errors?.[0]?.extensions?.code);
    }
    // Another tenant's rows never enter a count.
    const own = await run(`{ members(tenantId: "${otherTenantId}") { totalCount } }`, outsider.headers);
    expect(own.data?.members.totalCount).toBe(1);
  });
});

describe('object references instead of bare ids', () => {
  it('Invitation.invitedBy: the users of a whole page in one statement', async () => {
    const query = (selection: string) => `{ invitations(tenantId: "${tenantId}", first: 10) { edges { node { id ${selection} } } } }`;
    const without = await t.countStatements(() => run(query(''), owner.headers));
    let body: Awaited<ReturnType<typeof run>> | undefined;
    const withInviters = await t.countStatements(async () => {
      body = await run(query('invitedBy { id }'), owner.headers);
    });
    expect(withInviters).toBe(without + 1);
    const inviters = body!.data.invitations.edges.map((e: { node: { invitedBy: { id: string } | null } }) => e.node.invitedBy?.id ?? null);
    expect(inviters.filter((id: string | null) => id === owner.userId)).toHaveLength(3);
    // The admin who invited is not someone the owner may see: null, not their id.
    expect(inviters.filter((id: string | null) => id === null)).toHaveLength(1);
    const asAdmin = await run(query('invitedBy { id }'), admin.headers);
    expect(asAdmin.data.invitations.edges.map((e: { node: { invitedBy: { id: string } } }) => e.node.invitedBy.id)).toContain(admin.userId);
  });

  it('AuditEvent.actor and tenant: one statement each for a page of events by several actors', async () => {
    for (const member of members) {
      await run('mutation($input: RemoveMemberInput!) { removeMember(input: $input) { tenantId } }', member.headers, {
        input: { tenantId, userId: member.userId },
      });
      // Still in a tenant, as most actors are: users in none cost a realm admin's read a second statement.
      await seedMember(t, otherTenantId, member.userId, 'member');
    }
    const query = (selection: string) => `{ auditEvents(first: 50, filter: { tenantId: "${tenantId}" }) { edges { node { id ${selection} } } } }`;
    const without = await t.countStatements(() => run(query(''), admin.headers));
    let body: Awaited<ReturnType<typeof run>> | undefined;
    const withRefs = await t.countStatements(async () => {
      body = await run(query('actor { id displayName } tenant { id slug }'), admin.headers);
    });
    expect(withRefs).toBe(without + 2);
    const nodes = body!.data.auditEvents.edges.map((e: { node: { actor: { id: string } | null; tenant: { id: string } | null } }) => e.node);
    const actors = new Set(nodes.map((n: { actor: { id: string } | null }) => n.actor?.id));
    expect(actors.size).toBeGreaterThanOrEqual(4);
    for (const member of members) expect(actors).toContain(member.userId);
    expect(nodes.every((n: { tenant: { id: string } | null }) => n.tenant?.id === tenantId)).toBe(true);
  });
});
