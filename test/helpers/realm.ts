import { SignInDocument, SignUpDocument } from '../generated/graphql.js';
import type { TestApp } from './app.js';
import { uniqueEmail } from './auth.js';

/** A signed-in user of the GraphQL API: their id, tokens and the headers that carry them. */
export interface SignedIn {
  userId: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  headers: Record<string, string>;
}

const bearer = (accessToken: string) => ({ authorization: `Bearer ${accessToken}` });

/** Signs a new user up through GraphQL (the user is mirrored into idgraph's users table). */
export async function signUpUser(t: TestApp, email = uniqueEmail(), password = 'correct-horse-1'): Promise<SignedIn> {
  const { body } = await t.execute(SignUpDocument, { input: { email, password } });
  const session = body.data?.signUp.session;
  if (!session) throw new Error(`sign-up failed: ${JSON.stringify(body.errors)}`);
  return { userId: body.data!.signUp.user!.id, email, password, ...session, headers: bearer(session.accessToken) };
}

/** Signs an existing user in again, optionally into a tenant (fresh tokens, fresh claims). */
export async function signIn(t: TestApp, user: { email: string; password: string }, tenantId?: string): Promise<SignedIn> {
  const { body } = await t.execute(SignInDocument, { input: { email: user.email, password: user.password, tenantId } });
  const session = body.data?.signIn.session;
  if (!session) throw new Error(`sign-in failed: ${JSON.stringify(body.errors)}`);
  return { userId: body.data!.signIn.user!.id, email: user.email, password: user.password, ...session, headers: bearer(session.accessToken) };
}

/** The bootstrap realm admin the first start printed (email and one-time password), signed in. */
export async function signInRealmAdmin(t: TestApp): Promise<SignedIn> {
  const text = t.printed.join('\n');
  const email = /email:\s+(\S+)/.exec(text)?.[1];
  const password = /password:\s+(\S+)/.exec(text)?.[1];
  if (!email || !password) throw new Error('the app printed no bootstrap admin credential');
  return signIn(t, { email, password });
}

/**
 * Test fixture: a tenant with an owner, written straight to the database.
 * Tests of the tenant operations themselves go through GraphQL.
 */
export async function seedTenant(t: TestApp, ownerId: string, displayName = `Tenant ${uniqueEmail('t')}`) {
  const prisma = t.app.db.prisma;
  const realmId = await t.app.services.realms.defaultRealmId();
  const owner = await prisma.role.findUniqueOrThrow({ where: { realmId_name: { realmId, name: 'owner' } } });
  const slug = displayName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
  return prisma.tenant.create({
    data: { realmId, slug, displayName, ownerId, memberships: { create: { userId: ownerId, roleId: owner.id } } },
  });
}

/** Test fixture: a role in the default realm's catalog. */
export async function seedRole(t: TestApp, name: string, permissions: string[]) {
  const realmId = await t.app.services.realms.defaultRealmId();
  return t.app.db.prisma.role.create({ data: { realmId, name, displayName: name, permissions } });
}

/** Test fixture: puts a user in a tenant with a role of the catalog. */
export async function seedMember(t: TestApp, tenantId: string, userId: string, roleName: string) {
  const realmId = await t.app.services.realms.defaultRealmId();
  const role = await t.app.db.prisma.role.findUniqueOrThrow({ where: { realmId_name: { realmId, name: roleName } } });
  return t.app.db.prisma.membership.create({ data: { tenantId, userId, roleId: role.id } });
}

/** Row counts of every realm-layer table and the event store: equal before and after means nothing was written. */
export async function realmFootprint(t: TestApp) {
  const p = t.app.db.prisma;
  const [events, tenants, memberships, roles, invitations, apiKeys, domains, origins, otps, users, webhookEndpoints] = await Promise.all([
    p.event.count(),
    p.tenant.count({ where: { deletedAt: null } }),
    p.membership.count(),
    p.role.count(),
    p.invitation.count(),
    p.apiKey.count(),
    p.domain.count(),
    p.origin.count(),
    p.otp.count(),
    p.user.groupBy({ by: ['status'], _count: true }),
    p.webhookEndpoint.findMany({ select: { id: true, url: true, eventTypes: true, enabled: true, secret: true }, orderBy: { id: 'asc' } }),
  ]);
  return { events, tenants, memberships, roles, invitations, apiKeys, domains, origins, otps, users, webhookEndpoints };
}
