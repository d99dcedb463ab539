import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateApiKeyDocument, NodeByIdDocument, NodesByIdsDocument, RealmDocument, TenantBesideRealmDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { seedMember, seedRole, seedTenant, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

// node(id) and nodes(ids): every object by its UUID, each shown only to whoever its own query shows it to.

let t: TestApp;
let ann: SignedIn; // owner of tenant A
let bob: SignedIn; // member of tenant A (tenant:read only)
let carol: SignedIn; // owner of tenant B
let admin: SignedIn; // realm admin
const caller: Record<string, Record<string, string> | undefined> = {};
let tenantA: string;
const ids: Record<string, string> = {};

type GqlError = { readonly path?: ReadonlyArray<string | number>; readonly extensions?: Record<string, unknown> };

const ALL_SCOPES = ['tenant:read', 'invitations:manage', 'apikeys:manage', 'domains:manage', 'otp:issue', 'webhooks:manage', 'audit:read'];

async function apiKey(owner: SignedIn, tenantId: string) {
  const input = { tenantId, displayName: 'node tests', scopes: ALL_SCOPES };
  const { body } = await t.execute(CreateApiKeyDocument, { input }, owner.headers);
  if (!body.data) throw new Error(`createApiKey failed: ${JSON.stringify(body.errors)}`);
  return { id: body.data.createApiKey.apiKey.id, headers: { authorization: `ApiKey ${body.data.createApiKey.key}` } };
}

/** One row of every entity type in a tenant (and the realm-wide ones), written straight to the database. */
async function seedEntities(tenantId: string, ownerId: string, tag: string) {
  const p = t.app.db.prisma;
  const realmId = await t.app.services.realms.defaultRealmId();
  const role = await p.role.findUniqueOrThrow({ where: { realmId_name: { realmId, name: 'member' } } });
  const membership = await p.membership.findUniqueOrThrow({ where: { userId_tenantId: { userId: ownerId, tenantId } } });
  const inAWeek = new Date(Date.now() + 7 * 86_400_000);
  const invitation = await p.invitation.create({
    data: { tenantId, email: `${tag}@example.com`, roleId: role.id, tokenHash: randomUUID(), invitedById: ownerId, expiresAt: inAWeek },
  });
  const domain = await p.domain.create({ data: { tenantId, domain: `${tag}.example.com`, method: 'dns_txt', challenge: randomUUID() } });
  const otp = await p.otp.create({
    data: { tenantId, subjectRef: `order-${tag}`, purpose: 'confirm', valueHash: randomUUID(), issuerId: ownerId, maxAttempts: 5, expiresAt: inAWeek },
  });
  const endpoint = await p.webhookEndpoint.create({ data: { realmId, tenantId, url: `https://${tag}.example.com/hook`, secret: 'whsec_test' } });
  const event = await p.event.create({ data: { aggregateType: 'tenant', aggregateId: randomUUID(), version: 1, type: 'tenant.noted', tenantId } });
  const delivery = await p.outbox.create({ data: { eventId: event.id, destination: `webhook:${endpoint.id}` } });
  return {
    Tenant: tenantId,
    Membership: membership.id,
    Invitation: invitation.id,
    Domain: domain.id,
    Otp: otp.id,
    WebhookEndpoint: endpoint.id,
    WebhookDelivery: delivery.id,
    AuditEvent: event.id,
  };
}

beforeAll(async () => {
  t = await startTestApp();
  [ann, bob, carol] = await Promise.all([signUpUser(t), signUpUser(t), signUpUser(t)]);
  admin = await signInRealmAdmin(t);
  await t.app.db.prisma.user.update({ where: { id: ann.userId }, data: { displayName: 'Ann' } });
  tenantA = (await seedTenant(t, ann.userId)).id;
  const tenantB = (await seedTenant(t, carol.userId)).id;
  await seedMember(t, tenantA, bob.userId, 'member');
  const keyA = await apiKey(ann, tenantA);
  const keyB = await apiKey(carol, tenantB);
  Object.assign(caller, { anonymous: undefined, ann: ann.headers, bob: bob.headers, carol: carol.headers, admin: admin.headers, keyA: keyA.headers, keyB: keyB.headers });
  Object.assign(ids, await seedEntities(tenantA, ann.userId, 'a'), { ApiKey: keyA.id, User: ann.userId });
  const p = t.app.db.prisma;
  const realmId = await t.app.services.realms.defaultRealmId();
  ids.Realm = realmId;
  ids.Role = (await p.role.findUniqueOrThrow({ where: { realmId_name: { realmId, name: 'member' } } })).id;
  ids.Origin = (await p.origin.create({ data: { realmId, host: 'nodes.example.com' } })).id;
  ids.RealmWebhookEndpoint = (await p.webhookEndpoint.create({ data: { realmId, url: 'https://realm.example.com/hook', secret: 'whsec_test' } })).id;
  ids.RealmAuditEvent = (await p.event.create({ data: { aggregateType: 'realm', aggregateId: realmId, version: 1000, type: 'realm.noted', realmId } })).id;
  await seedRole(t, 'node-bystander', ['invoices:approve']);
});
afterAll(() => t.close());

const node = async (id: string, headers?: Record<string, string>) => (await t.execute(NodeByIdDocument, { id }, headers)).body;
const nodes = async (list: string[], headers?: Record<string, string>) => (await t.execute(NodesByIdsDocument, { ids: list }, headers)).body;
const codes = (errors: readonly GqlError[] | undefined) => (errors ?? []).map((e) => [e.path, e.extensions?.code]);

// Who sees each object: whoever its own query shows it to.
const everyone = ['anonymous', 'ann', 'bob', 'carol', 'admin', 'keyA', 'keyB'];
const visibleTo: Record<string, string[]> = {
  Realm: everyone,
  Role: ['ann', 'bob', 'carol', 'admin', 'keyA', 'keyB'], // roles: any signed-in caller
  User: ['ann', 'bob', 'admin', 'keyA'], // the user, members who may read a shared tenant, realm admins
  Tenant: ['ann', 'bob', 'admin', 'keyA'], // tenant(id): tenant:read
  Membership: ['ann', 'bob', 'admin', 'keyA'], // members(tenantId): tenant:read
  Invitation: ['ann', 'admin', 'keyA'], // invitations: invitations:manage
  ApiKey: ['ann', 'admin', 'keyA'], // apiKeys: apikeys:manage
  Domain: ['ann', 'admin', 'keyA'], // domains: domains:manage
  Otp: ['ann', 'keyA'], // viewOtp: its issuer only
  WebhookEndpoint: ['ann', 'admin', 'keyA'], // webhookEndpoints(tenantId): webhooks:manage
  WebhookDelivery: ['ann', 'admin', 'keyA'], // webhookDeliveries: whoever manages the endpoint
  AuditEvent: ['ann', 'admin', 'keyA'], // auditEvents(tenantId): audit:read
  Origin: ['admin'], // origins: realm admins
  RealmWebhookEndpoint: ['admin'],
  RealmAuditEvent: ['admin'],
};
const typeName = (key: string) => key.replace(/^Realm(?=[A-Z].)/, '');

describe('node(id)', () => {
  for (const [key, allowed] of Object.entries(visibleTo)) {
    it(`${key}: its UUID resolves for ${allowed.join(', ')}; everyone else gets what an id of nothing gets`, async () => {
      for (const who of everyone) {
        const body = await node(ids[key]!, caller[who]);
        if (allowed.includes(who)) {
          expect(body.errors, `${key} as ${who}`).toBeUndefined();
          expect(body.data?.node, `${key} as ${who}`).toMatchObject({ __typename: typeName(key), id: ids[key] });
        } else {
          expect(body.data, `${key} as ${who}`).toEqual({ node: null });
          expect(codes(body.errors), `${key} as ${who}`).toEqual([[['node'], 'not_found']]);
          expect(body, `${key} as ${who}`).toEqual(await node(randomUUID(), caller[who]));
        }
      }
    });
  }

  it('an object of a tenant that requires MFA is hidden from a member below aal2, as tenant(id) refuses it', async () => {
    const dora = await signUpUser(t);
    const tenant = await seedTenant(t, dora.userId);
    await t.app.db.prisma.tenant.update({ where: { id: tenant.id }, data: { config: { mfaRequired: true } } });
    const entities = await seedEntities(tenant.id, dora.userId, 'mfa');
    expect(codes((await t.execute(TenantBesideRealmDocument, { id: tenant.id }, dora.headers)).body.errors)).toEqual([[['a'], 'mfa_required']]);
    const body = await nodes(Object.values(entities), dora.headers);
    expect(body.data?.nodes.every((n) => n === null)).toBe(true);
    expect(new Set(codes(body.errors).map(([, code]) => code))).toEqual(new Set(['not_found']));
  });

  it('loads the fields asked for: relations come with the object', async () => {
    const body = await node(ids.ApiKey!, ann.headers);
    expect(body.data?.node).toMatchObject({ __typename: 'ApiKey', owner: { id: ann.userId } });
    expect((await node(ids.Invitation!, ann.headers)).data?.node).toMatchObject({ email: 'a@example.com', role: { name: 'member' } });
    expect((await node(ids.User!, bob.headers)).data?.node).toEqual({ __typename: 'User', id: ann.userId, displayName: 'Ann' });
  });

  it('the realm id is its UUID, the same as node(id) takes', async () => {
    const realm = (await t.execute(RealmDocument)).body.data!.realm;
    expect(realm.id).toBe(ids.Realm);
    expect((await node(realm.id)).data?.node).toEqual({ __typename: 'Realm', id: realm.id, slug: 'default' });
  });

  it('a malformed id is bad_request on that field alone; the rest of the response stands', async () => {
    for (const id of ['abc', Buffer.from(`Realm:${ids.Realm}`).toString('base64'), `${ids.Realm}x`]) {
      const body = await node(id, ann.headers);
      expect(body.data, id).toEqual({ node: null });
      expect(codes(body.errors), id).toEqual([[['node'], 'bad_request']]);
    }
  });

  it('an uppercase UUID names the same object', async () => {
    expect((await node(ids.Tenant!.toUpperCase(), ann.headers)).data?.node).toMatchObject({ __typename: 'Tenant', id: ids.Tenant });
  });
});

describe('nodes(ids)', () => {
  it('returns each id in order; each invisible, missing or malformed one is null with its own error entry', async () => {
    const list = [ids.Tenant!, ids.Origin!, 'abc', ids.Invitation!, randomUUID(), ids.Realm!];
    const body = await nodes(list, ann.headers);
    expect(body.data?.nodes.map((n) => n && [n.__typename, n.id])).toEqual([['Tenant', ids.Tenant], null, null, ['Invitation', ids.Invitation], null, ['Realm', ids.Realm]]);
    expect(codes(body.errors)).toEqual([
      [['nodes', 1], 'not_found'],
      [['nodes', 2], 'bad_request'],
      [['nodes', 4], 'not_found'],
    ]);
  });

  it('an API key sees its own tenant’s objects, never another tenant’s', async () => {
    const list = Object.keys(visibleTo).map((key) => ids[key]!);
    const asKeyB = await nodes(list, caller.keyB);
    const shown = asKeyB.data?.nodes.flatMap((n) => (n ? [n.__typename] : []));
    expect(shown).toEqual(['Realm', 'Role']);
  });

  it('resolves every type in a fixed number of statements, however many ids', async () => {
    const more = await Promise.all(Array.from({ length: 5 }, (_, i) => seedEntities(tenantA, ann.userId, `more${i}`)));
    const count = async (list: string[]) => {
      let body!: Awaited<ReturnType<typeof nodes>>;
      const statements = await t.countStatements(async () => (body = await nodes(list, ann.headers)));
      expect(body.errors).toBeUndefined();
      expect(body.data?.nodes.every(Boolean)).toBe(true);
      return statements;
    };
    const one = await count(Object.values(await seedEntities(tenantA, ann.userId, 'one')));
    const many = await count(more.flatMap((entities) => Object.values(entities)));
    expect(many).toBe(one);
    // One statement per type (eight here), plus: finding the types, the caller's standing in their tenants, the realm-admin check, the caller's credential.
    expect(one).toBeLessThanOrEqual(12);
  });

  it('more than 100 ids is query_too_complex', async () => {
    const body = await nodes(Array.from({ length: 101 }, () => randomUUID()), ann.headers);
    expect(body.data ?? null).toBeNull();
    expect(codes(body.errors)[0]?.[1]).toBe('query_too_complex');
  });
});

describe('single-object lookups', () => {
  it('a tenant that does not exist, or that the caller may not see, is null with not_found; the realm beside it still answers', async () => {
    for (const [id, headers] of [['abc', ann.headers], [randomUUID(), ann.headers], [tenantA, carol.headers], [tenantA, undefined]] as const) {
      const body = (await t.execute(TenantBesideRealmDocument, { id }, headers)).body;
      expect(body.data, id).toEqual({ a: null, realm: { slug: 'default' } });
      expect(body.errors?.map((e) => e.path), id).toEqual([['a']]);
    }
    const own = (await t.execute(TenantBesideRealmDocument, { id: tenantA }, ann.headers)).body;
    expect(own).toEqual({ data: { a: { slug: expect.any(String) }, realm: { slug: 'default' } } });
  });
});
