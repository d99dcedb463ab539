import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainChallenge, DomainVerifier } from '../../src/services/domain-verifier.js';
import { ClaimDomainDocument, CreateTenantDocument, SignUpDocument, UpdateTenantDocument, VerifyDomainDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { adminClient, authClient, claimsOf, uniqueEmail } from '../helpers/auth.js';
import { errorOf } from '../helpers/errors.js';
import { realmFootprint, seedTenant, signIn, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

// signup_mode: users whose email the provider confirmed join the ALLOWLIST tenants
// that verified their domain, and an OPEN base admin tenant, when they sign up or in
// through GraphQL. Email confirmation is asked of the mailbox here (autoconfirm off),
// as auto-join by domain needs it.

/** Published DNS challenges: `${domain}` → challenge values. */
const published = new Map<string, string>();
const fakeVerifier: DomainVerifier = { isPublished: async ({ domain, challenge }: DomainChallenge) => published.get(domain) === challenge };

let t: TestApp;
let owner: SignedIn;
let admin: SignedIn;
let domainSeq = 0;
const uniqueDomain = () => `p${++domainSeq}-${Date.now().toString(36)}.test`;
const prisma = () => t.app.db.prisma;

/** A user who signed up through GraphQL, confirmed the address, then signed in through GraphQL (where auto-join runs). */
async function confirmedUser(email = uniqueEmail('p'), password = 'correct-horse-1'): Promise<SignedIn> {
  const { body } = await t.execute(SignUpDocument, { input: { email, password } });
  if (body.errors) throw new Error(`sign-up failed: ${JSON.stringify(body.errors)}`);
  // Pending confirmation, the payload names no user: the engine's own table does.
  const { id } = await prisma().authUser.findUniqueOrThrow({ where: { email } });
  const { error } = await adminClient(t).updateUserById(id, { email_confirm: true });
  if (error) throw error;
  return signIn(t, { email, password });
}

const membershipsOf = (userId: string) =>
  prisma().membership.findMany({ where: { userId }, include: { role: true }, orderBy: { createdAt: 'asc' } });
const tenantsOf = async (userId: string) => (await membershipsOf(userId)).map((m) => m.tenantId);

/** Claims and verifies a domain for a tenant through GraphQL, as its owner. */
async function verifyDomain(tenantId: string, domain: string, by: SignedIn = owner) {
  const claimed = await t.execute(ClaimDomainDocument, { input: { tenantId, domain } }, by.headers);
  const claim = claimed.body.data?.claimDomain.domain;
  if (!claim) return claimed.body;
  published.set(domain, claim.challenge);
  return (await t.execute(VerifyDomainDocument, { input: { domainId: claim.id } }, by.headers)).body;
}

async function allowlistTenant() {
  const tenant = await seedTenant(t, owner.userId);
  await prisma().tenant.update({ where: { id: tenant.id }, data: { signupMode: 'allowlist' } });
  return tenant;
}

beforeAll(async () => {
  t = await startTestApp({ env: { AUTH_AUTOCONFIRM: 'false' }, domainVerifier: fakeVerifier });
  owner = await confirmedUser();
  admin = await signInRealmAdmin(t);
});
afterAll(() => t.close());

describe('auto-provisioning by verified domain', () => {
  it('a confirmed user at a domain the tenant verified joins it as member, whose tokens carry the tenant; once', async () => {
    const tenant = await allowlistTenant();
    const domain = uniqueDomain();
    expect((await verifyDomain(tenant.id, domain)).errors).toBeUndefined();
    const user = await confirmedUser(`ann@${domain}`);
    expect((await membershipsOf(user.userId)).map((m) => [m.tenantId, m.role.name])).toEqual([[tenant.id, 'member']]);
    expect(claimsOf(user.accessToken)).toMatchObject({ tenant_id: tenant.id, tenant_role: 'member' });
    const event = await prisma().event.findFirstOrThrow({ where: { tenantId: tenant.id, type: 'member.added' } });
    expect(event.payload).toMatchObject({ userId: user.userId, via: 'auto_provision', domain });
    await signIn(t, user);
    expect(await membershipsOf(user.userId)).toHaveLength(1);
  });

  it('not while the claim is pending, not for a subdomain, not once the tenant is deleted, not for a CLOSED tenant', async () => {
    const tenant = await allowlistTenant();
    const domain = uniqueDomain();
    await t.execute(ClaimDomainDocument, { input: { tenantId: tenant.id, domain } }, owner.headers);
    expect(await tenantsOf((await confirmedUser(`early@${domain}`)).userId)).toEqual([]);
    await verifyDomain(tenant.id, domain);
    expect(await tenantsOf((await confirmedUser(`sub@x.${domain}`)).userId)).toEqual([]);
    await prisma().tenant.update({ where: { id: tenant.id }, data: { signupMode: 'closed' } });
    expect(await tenantsOf((await confirmedUser(`closed@${domain}`)).userId)).toEqual([]);
    await prisma().tenant.update({ where: { id: tenant.id }, data: { signupMode: 'allowlist', deletedAt: new Date() } });
    expect(await tenantsOf((await confirmedUser(`late@${domain}`)).userId)).toEqual([]);
  });

  it('only the confirmed address counts: a pending change to an address at the domain joins nothing', async () => {
    const tenant = await allowlistTenant();
    const domain = uniqueDomain();
    await verifyDomain(tenant.id, domain);
    const user = await confirmedUser();
    const client = authClient(t);
    await client.setSession({ access_token: user.accessToken, refresh_token: user.refreshToken });
    const { data, error } = await client.updateUser({ email: `mallory@${domain}` });
    expect(error).toBeNull();
    expect(data.user?.new_email).toBe(`mallory@${domain}`);
    await signIn(t, user);
    expect(await tenantsOf(user.userId)).toEqual([]);
  });
});

describe('allowedDomains', () => {
  it('naming a domain the tenant has not verified is bad_request domain_not_verified, in createTenant and updateTenant; nothing written', async () => {
    const tenant = await allowlistTenant();
    const mine = uniqueDomain();
    await verifyDomain(tenant.id, mine);
    const before = await realmFootprint(t);
    const create = await t.execute(CreateTenantDocument, { input: { displayName: 'Grabby', signupMode: 'ALLOWLIST', allowedDomains: ['gmail.com'] } }, owner.headers);
    expect(errorOf(create.body)).toMatchObject({ code: 'bad_request', reason: 'domain_not_verified', field: 'allowedDomains.0' });
    const adminDomain = admin.email.slice(admin.email.indexOf('@') + 1);
    for (const [list, field] of [
      [['gmail.com'], 'allowedDomains.0'],
      [[mine, adminDomain], 'allowedDomains.1'],
      [[mine, uniqueDomain()], 'allowedDomains.1'],
    ] as const) {
      const { body } = await t.execute(UpdateTenantDocument, { input: { tenantId: tenant.id, allowedDomains: [...list] } }, owner.headers);
      expect(errorOf(body), list.join()).toMatchObject({ code: 'bad_request', reason: 'domain_not_verified', field });
    }
    expect(await realmFootprint(t)).toEqual(before);
    expect((await prisma().tenant.findUniqueOrThrow({ where: { id: tenant.id } })).allowedDomains).toEqual([]);
  });

  it('a domain the tenant verified may be listed', async () => {
    const tenant = await allowlistTenant();
    const mine = uniqueDomain();
    await verifyDomain(tenant.id, mine);
    const { body } = await t.execute(UpdateTenantDocument, { input: { tenantId: tenant.id, allowedDomains: [mine.toUpperCase()] } }, owner.headers);
    expect(body.errors).toBeUndefined();
    expect(body.data!.updateTenant.tenant.allowedDomains).toEqual([mine]);
  });

  it('a list that holds unverified domains (written before the rule) admits no one: not gmail.com users, not the realm admin', async () => {
    const tenant = await allowlistTenant();
    const adminDomain = admin.email.slice(admin.email.indexOf('@') + 1);
    await prisma().tenant.update({ where: { id: tenant.id }, data: { allowedDomains: ['gmail.com', adminDomain] } });
    const gmail = await confirmedUser(uniqueEmail('victim').replace('example.com', 'gmail.com'));
    await signInRealmAdmin(t);
    expect(await tenantsOf(gmail.userId)).toEqual([]);
    expect(await prisma().membership.count({ where: { tenantId: tenant.id, userId: admin.userId } })).toBe(0);
  });
});

describe('one tenant per verified domain', () => {
  it('a domain the base admin tenant verified cannot be claimed, listed or used by another tenant; its users, the realm admin included, do not join it', async () => {
    const base = await prisma().tenant.findFirstOrThrow({ where: { isBaseAdmin: true } });
    const adminDomain = admin.email.slice(admin.email.indexOf('@') + 1);
    expect((await verifyDomain(base.id, adminDomain, admin)).errors).toBeUndefined();
    const tenant = await allowlistTenant();
    expect(errorOf(await verifyDomain(tenant.id, adminDomain))).toMatchObject({ code: 'conflict', reason: 'domain_taken' });
    const listed = await t.execute(UpdateTenantDocument, { input: { tenantId: tenant.id, allowedDomains: [adminDomain] } }, owner.headers);
    expect(errorOf(listed.body)).toMatchObject({ code: 'bad_request', reason: 'domain_not_verified' });
    await signInRealmAdmin(t);
    const colleague = await confirmedUser(`colleague-${Date.now()}@${adminDomain}`);
    for (const userId of [admin.userId, colleague.userId]) {
      expect(await prisma().membership.count({ where: { tenantId: tenant.id, userId } })).toBe(0);
    }
  });
});

describe('other signup modes', () => {
  it('an OPEN base admin tenant admits everyone as member (not as admin)', async () => {
    const base = await prisma().tenant.update({ where: { realmId_slug: { realmId: await t.app.services.realms.defaultRealmId(), slug: 'admin' } }, data: { signupMode: 'open' } });
    try {
      const anyone = await confirmedUser();
      expect((await membershipsOf(anyone.userId)).map((m) => [m.tenantId, m.role.name])).toEqual([[base.id, 'member']]);
      expect(await t.app.services.access.isRealmAdmin((await t.app.resolveViewer(`Bearer ${anyone.accessToken}`))!, base.realmId)).toBe(false);
    } finally {
      await prisma().tenant.update({ where: { id: base.id }, data: { signupMode: 'closed' } });
    }
  });
});

describe('with email autoconfirm on', () => {
  let auto: TestApp;
  beforeAll(async () => {
    auto = await startTestApp();
  });
  afterAll(() => auto.close());

  it('a confirmed address proves nothing about its mailbox: no one joins by domain (an OPEN base admin tenant still admits everyone)', async () => {
    const tenantOwner = await signUpUser(auto);
    const tenant = await seedTenant(auto, tenantOwner.userId);
    const domain = uniqueDomain();
    const p = auto.app.db.prisma;
    await p.tenant.update({ where: { id: tenant.id }, data: { signupMode: 'allowlist' } });
    await p.domain.create({ data: { tenantId: tenant.id, domain, method: 'dns_txt', challenge: 'published', status: 'verified', verifiedAt: new Date() } });
    const impostor = await signUpUser(auto, `ceo@${domain}`);
    expect(await p.membership.findMany({ where: { userId: impostor.userId } })).toEqual([]);

    const base = await p.tenant.update({ where: { realmId_slug: { realmId: tenant.realmId, slug: 'admin' } }, data: { signupMode: 'open' } });
    const anyone = await signUpUser(auto, `cfo@${domain}`);
    expect((await p.membership.findMany({ where: { userId: anyone.userId } })).map((m) => m.tenantId)).toEqual([base.id]);
  });
});
