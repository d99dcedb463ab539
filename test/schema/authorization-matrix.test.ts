import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/crypto.js';
import { createEventStore } from '../../src/events/store.js';
import { builtinPermissions } from '../../src/services/permissions.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { realmFootprint, seedMember, seedRole, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

// For every realm-management operation: the allowed caller succeeds, and each
// of anonymous, a member of another tenant, a member without the permission, a
// suspended user, an API key without the scope, an API key whose owner lost
// the permission and an API key of the realm's base admin tenant is refused with
// its code, with nothing written. Operations that grant (a role, an invitation,
// a key's scopes, a role's permissions) also refuse a caller who holds the
// permission but would grant more than they hold.

type Headers = Record<string, string> | undefined;
type Vars = Record<string, unknown>;

let t: TestApp;
let owner: SignedIn;
let admin: SignedIn;
let bare: SignedIn; // member of the tenant with a role granting nothing
let outsider: SignedIn; // owner of another tenant
let suspended: SignedIn; // held every permission, then was suspended
let demoted: SignedIn; // created a full key, then lost every permission
let target: SignedIn; // someone the operations act on
let manager: SignedIn; // members, invitations and keys to manage, but not everything
let catalogEditor: SignedIn; // roles:manage over the realm, nothing else
let tenantId: string;
let keyWithoutScope: string;
let keyOfDemotedOwner: string;
let keyOfAdminTenant: string; // every scope, in the realm's base admin tenant
/** Every secret handed out during the run: none may reach an event, in clear or hashed. */
const secrets = new Set<string>();
const remember = (value: string | undefined) => value && secrets.add(value);

async function gql(query: string, variables: Vars, headers: Headers) {
  const res = await t.app.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: Record<string, unknown> | null; errors?: Array<{ extensions?: { code?: string } }> };
}
const apiKey = (key: string) => ({ authorization: `ApiKey ${key}` });

async function createKey(user: SignedIn, scopes: string[]) {
  const body = await gql(
    'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
    { input: { tenantId, displayName: 'matrix', scopes } },
    user.headers,
  );
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  const { key } = body.data.createApiKey as { key: string };
  remember(key);
  remember(key.split('.')[1]);
  return key;
}

beforeAll(async () => {
  // Webhook endpoints of the matrix point at a closed local port: deliveries fail at once, nothing leaves the machine.
  t = await startTestApp({ domainVerifier: { isPublished: async () => true }, env: { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' } });
  admin = await signInRealmAdmin(t);
  [owner, bare, outsider, suspended, demoted, target, manager, catalogEditor] = (await Promise.all(Array.from({ length: 8 }, () => signUpUser(t)))) as [
    SignedIn, SignedIn, SignedIn, SignedIn, SignedIn, SignedIn, SignedIn, SignedIn,
  ];
  for (const user of [admin, owner, bare, outsider, suspended, demoted, target, manager, catalogEditor]) [user.password, user.accessToken, user.refreshToken].forEach(remember);
  await seedRole(t, 'bare', []);
  await seedRole(t, 'full', [...builtinPermissions]);
  await seedRole(t, 'manager', ['tenant:read', 'members:manage', 'invitations:manage', 'apikeys:manage']);
  await seedRole(t, 'catalog', ['roles:manage']);
  const baseTenantId = (await t.app.db.prisma.tenant.findFirstOrThrow({ where: { isBaseAdmin: true } })).id;
  await seedMember(t, baseTenantId, catalogEditor.userId, 'catalog');
  const adminKey = await gql(
    'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
    { input: { tenantId: baseTenantId, displayName: 'admin automation', scopes: [...builtinPermissions] } },
    admin.headers,
  );
  keyOfAdminTenant = (adminKey.data!.createApiKey as { key: string }).key;
  remember(keyOfAdminTenant);
  remember(keyOfAdminTenant.split('.')[1]);
  const created = await gql('mutation { createTenant(input: { displayName: "Matrix" }) { tenant { id } } }', {}, owner.headers);
  tenantId = (created.data!.createTenant as { tenant: { id: string } }).tenant.id;
  await gql('mutation { createTenant(input: { displayName: "Elsewhere" }) { tenant { id } } }', {}, outsider.headers);
  await seedMember(t, tenantId, bare.userId, 'bare');
  await seedMember(t, tenantId, suspended.userId, 'full');
  await seedMember(t, tenantId, demoted.userId, 'full');
  await seedMember(t, tenantId, target.userId, 'bare');
  await seedMember(t, tenantId, manager.userId, 'manager');
  // A key scoped to something no operation below needs, and a full key whose owner is then demoted.
  keyWithoutScope = await createKey(owner, ['tenant:read']);
  keyOfDemotedOwner = await createKey(demoted, [...builtinPermissions]);
  await gql(
    'mutation($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { membership { id } } }',
    { input: { tenantId, userId: demoted.userId, role: 'bare' } },
    owner.headers,
  );
  await gql('mutation($input: UpdateUserStatusInput!) { updateUserStatus(input: $input) { user { id } } }', { input: { userId: suspended.userId, status: 'SUSPENDED' } }, admin.headers);
});
afterAll(() => t.close());

interface Operation {
  name: string;
  /** The tenant operations need a permission in the tenant; realm ones need it over the realm. */
  scope: 'tenant' | 'realm';
  query: string;
  /** Fresh variables for one round (setting up what the operation acts on). */
  vars: () => Promise<Vars> | Vars;
  /** Who succeeds: the tenant's owner, or the realm admin. */
  allowed: 'owner' | 'admin';
  /** A key scoped to tenant:read does hold the permission tenant:read operations need: skip that refusal. */
  readOnly?: boolean;
  /** API keys are refused outright (forbidden), before any tenant is looked at. */
  refusesKeys?: boolean;
  /** Callers holding the permission who would grant beyond it: [who, headers, variables, reason], refused as forbidden. */
  escalations?: () => Array<[string, Headers, Vars, string]>;
}

let seq = 0;
const unique = (tag: string) => `${tag}${++seq}${Date.now().toString(36)}`;
const seededInvitation = async () => {
  const role = await t.app.db.prisma.role.findFirstOrThrow({ where: { name: 'bare' } });
  const invitation = await t.app.db.prisma.invitation.create({
    data: { tenantId, email: `${unique('i')}@example.com`, roleId: role.id, tokenHash: unique('hash'), expiresAt: new Date(Date.now() + 86_400_000) },
  });
  return invitation.id;
};
const ownerCall = async (query: string, variables: Vars) => {
  const body = await gql(query, variables, owner.headers);
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
};
const matrixWebhook = { url: 'http://127.0.0.1:9/matrix', eventTypes: ['realm.created'] };
/** A webhook endpoint of the tenant (the owner's) or, with `realmWide`, of the realm (the admin's). */
const seededEndpoint = async (realmWide = false) => {
  const body = await gql(
    'mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } secret } }',
    { input: { ...matrixWebhook, tenantId: realmWide ? null : tenantId } },
    realmWide ? admin.headers : owner.headers,
  );
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  const created = body.data.createWebhookEndpoint as { endpoint: { id: string }; secret: string };
  remember(created.secret);
  return created.endpoint.id;
};

const operations: Operation[] = [
  { name: 'tenant', scope: 'tenant', allowed: 'owner', readOnly: true, query: 'query($id: ID!) { tenant(id: $id) { id } }', vars: () => ({ id: tenantId }) },
  { name: 'members', scope: 'tenant', allowed: 'owner', readOnly: true, query: 'query($id: ID!) { members(tenantId: $id, first: 5) { edges { node { id } } } }', vars: () => ({ id: tenantId }) },
  {
    name: 'updateTenant',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { tenant { id } } }',
    vars: () => ({ input: { tenantId, displayName: unique('Matrix ') } }),
  },
  {
    name: 'updateTenantConfig',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: UpdateTenantConfigInput!) { updateTenantConfig(input: $input) { tenant { id } } }',
    vars: () => ({ input: { tenantId, config: { locale: 'en' } } }),
  },
  {
    name: 'updateMemberRole',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { membership { id } } }',
    vars: () => ({ input: { tenantId, userId: target.userId, role: seq++ % 2 ? 'member' : 'bare' } }),
    escalations: () => [
      ['a manager raising themselves', manager.headers, { input: { tenantId, userId: manager.userId, role: 'full' } }, 'own_role'],
      ['a manager granting more than they hold', manager.headers, { input: { tenantId, userId: target.userId, role: 'full' } }, 'role_exceeds_permissions'],
      ['a manager demoting the owner', manager.headers, { input: { tenantId, userId: owner.userId, role: 'bare' } }, 'owner_only'],
    ],
  },
  {
    name: 'removeMember',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: RemoveMemberInput!) { removeMember(input: $input) { userId } }',
    vars: async () => {
      const leaving = await signUpUser(t);
      await seedMember(t, tenantId, leaving.userId, 'bare');
      return { input: { tenantId, userId: leaving.userId } };
    },
    escalations: () => [['a manager removing the owner', manager.headers, { input: { tenantId, userId: owner.userId } }, 'owner_only']],
  },
  {
    name: 'createInvitation',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: CreateInvitationInput!) { createInvitation(input: $input) { invitation { id } token } }',
    vars: () => ({ input: { tenantId, email: `${unique('inv')}@example.com`, role: 'member' } }),
    escalations: () => [
      ['a manager inviting with more than they hold', manager.headers, { input: { tenantId, email: `${unique('up')}@example.com`, role: 'full' } }, 'role_exceeds_permissions'],
    ],
  },
  { name: 'invitations', scope: 'tenant', allowed: 'owner', query: 'query($id: ID!) { invitations(tenantId: $id, first: 5) { edges { node { id } } } }', vars: () => ({ id: tenantId }) },
  {
    name: 'revokeInvitation',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: RevokeInvitationInput!) { revokeInvitation(input: $input) { invitation { id } } }',
    vars: async () => ({ input: { invitationId: await seededInvitation() } }),
  },
  {
    name: 'createApiKey',
    scope: 'tenant',
    allowed: 'owner',
    refusesKeys: true,
    query: 'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } key } }',
    vars: () => ({ input: { tenantId, displayName: 'k', scopes: ['tenant:read'] } }),
    escalations: () => [
      ['a manager scoping a key beyond their role', manager.headers, { input: { tenantId, displayName: 'k', scopes: ['tenant:read', 'tenant:write'] } }, 'role_exceeds_permissions'],
    ],
  },
  { name: 'apiKeys', scope: 'tenant', allowed: 'owner', query: 'query($id: ID!) { apiKeys(tenantId: $id, first: 5) { edges { node { id } } } }', vars: () => ({ id: tenantId }) },
  {
    name: 'revokeApiKey',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { apiKey { id } } }',
    vars: async () => {
      const data = await ownerCall('mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } } }', {
        input: { tenantId, displayName: 'to revoke', scopes: ['tenant:read'] },
      });
      return { input: { apiKeyId: (data.createApiKey as { apiKey: { id: string } }).apiKey.id } };
    },
  },
  {
    name: 'claimDomain',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: ClaimDomainInput!) { claimDomain(input: $input) { domain { id } } }',
    vars: () => ({ input: { tenantId, domain: `${unique('d')}.example.com` } }),
  },
  { name: 'domains', scope: 'tenant', allowed: 'owner', query: 'query($id: ID!) { domains(tenantId: $id, first: 5) { edges { node { id } } } }', vars: () => ({ id: tenantId }) },
  {
    name: 'verifyDomain',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: VerifyDomainInput!) { verifyDomain(input: $input) { domain { id } } }',
    vars: async () => {
      const data = await ownerCall('mutation($input: ClaimDomainInput!) { claimDomain(input: $input) { domain { id } } }', {
        input: { tenantId, domain: `${unique('v')}.example.com` },
      });
      return { input: { domainId: (data.claimDomain as { domain: { id: string } }).domain.id } };
    },
  },
  {
    name: 'issueOtp',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: IssueOtpInput!) { issueOtp(input: $input) { otp { id } value } }',
    vars: () => ({ input: { tenantId, subjectRef: unique('order-'), purpose: 'delivery' } }),
  },
  {
    name: 'consumeOtp',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: ConsumeOtpInput!) { consumeOtp(input: $input) { otp { id } } }',
    vars: async () => {
      const subjectRef = unique('order-');
      const data = await ownerCall('mutation($input: IssueOtpInput!) { issueOtp(input: $input) { value } }', { input: { tenantId, subjectRef, purpose: 'delivery' } });
      remember((data.issueOtp as { value: string }).value);
      return { input: { tenantId, subjectRef, purpose: 'delivery', presented: (data.issueOtp as { value: string }).value } };
    },
  },
  {
    name: 'transferTenantOwnership',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: TransferTenantOwnershipInput!) { transferTenantOwnership(input: $input) { tenant { id } } }',
    // The owner stays an owner (previousOwnerRole owner), so later rounds still have one.
    vars: () => ({ input: { tenantId, newOwnerId: target.userId, previousOwnerRole: 'owner' } }),
    escalations: () => [['a manager handing themselves ownership', manager.headers, { input: { tenantId, newOwnerId: manager.userId } }, 'owner_only']],
  },
  {
    name: 'createRole',
    scope: 'realm',
    allowed: 'admin',
    query: 'mutation($input: CreateRoleInput!) { createRole(input: $input) { role { id } } }',
    vars: () => ({ input: { name: unique('r'), displayName: 'R', permissions: [] } }),
    escalations: () => [
      ['a catalog editor creating a role beyond their own', catalogEditor.headers, { input: { name: unique('r'), displayName: 'R', permissions: ['tenant:write'] } }, 'role_exceeds_permissions'],
    ],
  },
  {
    name: 'updateRole',
    scope: 'realm',
    allowed: 'admin',
    query: 'mutation($input: UpdateRoleInput!) { updateRole(input: $input) { role { id } } }',
    vars: () => ({ input: { name: 'full', displayName: unique('Full ') } }),
    escalations: () => [
      ['a catalog editor widening their own role', catalogEditor.headers, { input: { name: 'catalog', permissions: ['roles:manage', 'tenant:write'] } }, 'role_exceeds_permissions'],
    ],
  },
  {
    name: 'renameRole',
    scope: 'realm',
    allowed: 'admin',
    query: 'mutation($input: RenameRoleInput!) { renameRole(input: $input) { role { id } } }',
    vars: async () => {
      const name = unique('old');
      await seedRole(t, name, []);
      return { input: { name, newName: unique('new') } };
    },
  },
  {
    name: 'deleteRole',
    scope: 'realm',
    allowed: 'admin',
    query: 'mutation($input: RoleNameInput!) { deleteRole(input: $input) { role { id } } }',
    vars: async () => {
      const name = unique('gone');
      await seedRole(t, name, []);
      return { input: { name } };
    },
  },
  {
    name: 'updateUserStatus',
    scope: 'realm',
    allowed: 'admin',
    query: 'mutation($input: UpdateUserStatusInput!) { updateUserStatus(input: $input) { user { id } } }',
    vars: async () => ({ input: { userId: (await signUpUser(t)).userId, status: 'SUSPENDED' } }),
  },
  {
    name: 'auditEvents',
    scope: 'tenant',
    allowed: 'owner',
    query: 'query($filter: AuditEventFilter) { auditEvents(filter: $filter, first: 5) { edges { node { id } } } }',
    vars: () => ({ filter: { tenantId } }),
  },
  { name: 'origins', scope: 'realm', allowed: 'admin', query: '{ origins(first: 5) { edges { node { id } } } }', vars: () => ({}) },
  {
    name: 'addOrigin',
    scope: 'realm',
    allowed: 'admin',
    query: 'mutation($input: OriginInput!) { addOrigin(input: $input) { origin { id } } }',
    vars: () => ({ input: { origin: `https://${unique('app')}.example.com` } }),
  },
  {
    name: 'removeOrigin',
    scope: 'realm',
    allowed: 'admin',
    query: 'mutation($input: OriginInput!) { removeOrigin(input: $input) { origin { id } } }',
    vars: async () => {
      const origin = `${unique('gone')}.example.com`;
      const added = await gql('mutation($input: OriginInput!) { addOrigin(input: $input) { origin { id } } }', { input: { origin } }, admin.headers);
      if (!added.data) throw new Error(JSON.stringify(added.errors));
      return { input: { origin } };
    },
  },
  { name: 'adminStats', scope: 'realm', allowed: 'admin', query: '{ adminStats { tenants users } }', vars: () => ({}) },
  { name: 'adminSearch', scope: 'realm', allowed: 'admin', query: '{ adminSearch(q: "matrix") { id } }', vars: () => ({}) },
  { name: 'outboxHealth', scope: 'realm', allowed: 'admin', query: '{ outboxHealth { destination pending failed } }', vars: () => ({}) },
  {
    name: 'replayFailedOutbox',
    scope: 'realm',
    allowed: 'admin',
    query: 'mutation($destination: String!) { replayFailedOutbox(destination: $destination) }',
    vars: async () => {
      // A row that failed for good, so the allowed replay has one to count.
      const destination = unique('matrix-destination');
      const event = await t.app.db.prisma.$transaction((tx) =>
        createEventStore({ destinations: [destination] }).appendEvent(tx, { aggregateType: 'matrix', aggregateId: destination, type: 'matrix.seeded' }),
      );
      await t.app.db.prisma.outbox.updateMany({ where: { eventId: event.id }, data: { status: 'failed', attempts: 5 } });
      return { destination };
    },
  },
  {
    name: 'createWebhookEndpoint',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } secret } }',
    vars: () => ({ input: { ...matrixWebhook, tenantId } }),
  },
  {
    name: 'createWebhookEndpoint',
    scope: 'realm',
    allowed: 'admin',
    query: 'mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } secret } }',
    vars: () => ({ input: matrixWebhook }),
  },
  { name: 'webhookEndpoints', scope: 'tenant', allowed: 'owner', query: 'query($id: ID) { webhookEndpoints(tenantId: $id, first: 5) { edges { node { id } } } }', vars: () => ({ id: tenantId }) },
  { name: 'webhookEndpoints', scope: 'realm', allowed: 'admin', query: '{ webhookEndpoints(first: 5) { edges { node { id } } } }', vars: () => ({}) },
  {
    name: 'updateWebhookEndpoint',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) { endpoint { id } } }',
    vars: async () => ({ input: { endpointId: await seededEndpoint(), eventTypes: ['realm.created', 'tenant.created'] } }),
  },
  {
    name: 'updateWebhookEndpoint',
    scope: 'realm',
    allowed: 'admin',
    query: 'mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) { endpoint { id } } }',
    vars: async () => ({ input: { endpointId: await seededEndpoint(true), enabled: false } }),
  },
  {
    name: 'rotateWebhookSecret',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: WebhookEndpointIdInput!) { rotateWebhookSecret(input: $input) { endpoint { id } secret } }',
    vars: async () => ({ input: { endpointId: await seededEndpoint() } }),
  },
  {
    name: 'rotateWebhookSecret',
    scope: 'realm',
    allowed: 'admin',
    query: 'mutation($input: WebhookEndpointIdInput!) { rotateWebhookSecret(input: $input) { endpoint { id } secret } }',
    vars: async () => ({ input: { endpointId: await seededEndpoint(true) } }),
  },
  {
    name: 'deleteWebhookEndpoint',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: WebhookEndpointIdInput!) { deleteWebhookEndpoint(input: $input) { endpoint { id } } }',
    vars: async () => ({ input: { endpointId: await seededEndpoint() } }),
  },
  {
    name: 'webhookDeliveries',
    scope: 'tenant',
    allowed: 'owner',
    query: 'query($id: ID!) { webhookDeliveries(endpointId: $id, first: 5) { edges { node { id status } } } }',
    vars: async () => ({ id: await seededEndpoint() }),
  },
  {
    name: 'replayWebhookDelivery',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: ReplayWebhookDeliveryInput!) { replayWebhookDelivery(input: $input) { delivery { id status } } }',
    vars: async () => {
      // A delivery that failed for good, to be sent again.
      const endpointId = await seededEndpoint();
      const event = await t.app.db.prisma.$transaction((tx) =>
        createEventStore({ destinations: [`webhook:${endpointId}`] }).appendEvent(tx, { aggregateType: 'matrix', aggregateId: endpointId, type: 'matrix.seeded', tenantId }),
      );
      const row = await t.app.db.prisma.outbox.findFirstOrThrow({ where: { eventId: event.id } });
      await t.app.db.prisma.outbox.update({ where: { id: row.id }, data: { status: 'failed', attempts: 5 } });
      return { input: { deliveryId: row.id } };
    },
  },
  // Last: it ends the tenant every other round acts in.
  {
    name: 'deleteTenant',
    scope: 'tenant',
    allowed: 'owner',
    query: 'mutation($input: TenantIdInput!) { deleteTenant(input: $input) { tenant { id } } }',
    vars: () => ({ input: { tenantId } }),
  },
];

describe('authorization matrix', () => {
  for (const op of operations) {
    it(`${op.name}: the ${op.allowed === 'owner' ? 'tenant owner' : 'realm admin'} succeeds; every other caller is refused and nothing is written`, async () => {
      const variables = await op.vars();
      const denials: Array<[string, Headers, string]> = [
        ['anonymous', undefined, 'unauthenticated'],
        ['member of another tenant', outsider.headers, op.scope === 'tenant' ? 'not_found' : 'forbidden'],
        ['member without the permission', bare.headers, 'forbidden'],
        ['suspended user', suspended.headers, 'account_suspended'],
        ...(op.readOnly ? [] : ([['API key without the scope', apiKey(keyWithoutScope), 'forbidden']] as Array<[string, Headers, string]>)),
        ['API key whose owner lost the permission', apiKey(keyOfDemotedOwner), 'forbidden'],
        // Keys are confined to their tenant: one of the base admin tenant is no realm admin.
        ['API key of the realm’s admin tenant', apiKey(keyOfAdminTenant), op.scope === 'tenant' && !op.refusesKeys ? 'not_found' : 'forbidden'],
      ];
      if (op.allowed === 'admin') denials.push(['tenant owner (not a realm admin)', owner.headers, 'forbidden']);
      const before = await realmFootprint(t);
      for (const [who, headers, code] of denials) {
        const body = await gql(op.query, variables, headers);
        expect(body.errors?.[0]?.extensions?.code, `${op.name} as ${who}`).toBe(code);
      }
      for (const [who, headers, escalation, reason] of op.escalations?.() ?? []) {
        const body = await gql(op.query, escalation, headers);
        expect(body.errors?.[0]?.extensions, `${op.name} as ${who}`).toMatchObject({ code: 'forbidden', reason });
      }
      expect(await realmFootprint(t), `${op.name}: nothing written on refusal`).toEqual(before);

      const allowed = await gql(op.query, variables, op.allowed === 'owner' ? owner.headers : admin.headers);
      expect(allowed.errors, op.name).toBeUndefined();
      JSON.stringify(allowed.data).match(/"(value|token|key|secret)":"([^"]+)"/g)?.forEach((m) => remember(m.split('":"')[1]!.slice(0, -1)));
      expect(allowed.data?.[op.name]).toBeTruthy();
    });
  }
});

describe('event payloads', () => {
  it('carry no secret handed out above (passwords, tokens, API keys, OTP values, invitation tokens), in clear or as SHA-256', async () => {
    const events = await t.app.db.prisma.event.findMany();
    const stored = JSON.stringify(events.map((e) => [e.payload, e.metadata]));
    expect(secrets.size).toBeGreaterThan(20);
    for (const secret of secrets) {
      expect(stored.includes(secret), 'a secret in an event').toBe(false);
      expect(stored.includes(sha256Hex(secret)), 'a secret hash in an event').toBe(false);
    }
    // The scan covered the events of the operations above.
    const types = new Set(events.map((e) => e.type));
    for (const type of ['tenant.created', 'invitation.created', 'apikey.created', 'apikey.revoked', 'domain.verified', 'otp.issued', 'otp.consumed', 'role.renamed', 'user.status_changed', 'tenant.deleted']) {
      expect(types.has(type), type).toBe(true);
    }
  });
});
