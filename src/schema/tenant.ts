import { builder } from './builder.js';
import { NodeRef } from './node.js';
import { connectionType, fromListing } from './connections.js';
import { MembershipConnection } from './membership.js';

export const SignupMode = builder.enumType('SignupMode', {
  description: 'How users join: CLOSED by invitation only; ALLOWLIST users whose confirmed email is at a domain the tenant verified; OPEN everyone (base admin tenant only).',
  values: { CLOSED: { value: 'closed' }, ALLOWLIST: { value: 'allowlist' }, OPEN: { value: 'open' } } as const,
});

/** A tenant of the realm. A federation entity. */
export const TenantRef = builder.prismaObject('Tenant', {
  description: 'A tenant of the realm: an organisation whose members hold roles. A federation entity.',
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    slug: t.exposeString('slug'),
    displayName: t.exposeString('displayName'),
    signupMode: t.expose('signupMode', { type: SignupMode }),
    allowedDomains: t.exposeStringList('allowedDomains', { description: 'Domains listed for ALLOWLIST sign-up; only domains the tenant verified can be listed.' }),
    config: t.expose('config', { type: 'JSON', description: 'The tenant’s settings (see updateTenantConfig for the keys).' }),
    isBaseAdmin: t.exposeBoolean('isBaseAdmin', { description: 'Its admins administer the realm.' }),
    owner: t.relation('owner', { nullable: true }),
    members: t.relatedConnection('memberships', { cursor: 'id', totalCount: true, description: 'Everyone in the tenant, with their role.' }, MembershipConnection),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.asEntity(TenantRef, {
  key: builder.selection<{ id: string }>('id'),
  // Entity references resolve only for callers who may read the tenant (null otherwise, as for a missing entity).
  resolveReference: (tenant, ctx) => ctx.services.references.tenant(ctx.caller, tenant.id),
});

const TenantConnection = connectionType(TenantRef, 'Tenant');

const TenantFilter = builder.inputType('TenantFilter', {
  description: 'Narrows the tenants listed.',
  fields: (t) => ({ displayName: t.string({ required: false, description: 'Part of the display name, any case.' }) }),
});

builder.queryFields((t) => ({
  tenants: t.prismaConnection(
    {
      type: 'Tenant',
      cursor: 'id',
      description: 'The viewer’s tenants; every tenant of the realm for realm admins.',
      args: { filter: t.arg({ type: TenantFilter, required: false, description: 'Which tenants; all the caller may see when omitted.' }) },
      ...fromListing((args: { filter?: { displayName?: string | null } | null }, ctx) =>
        ctx.services.tenants.list(ctx.caller, { name: args.filter?.displayName }),
      ),
    },
    TenantConnection,
  ),
  tenant: t.prismaField({
    type: 'Tenant',
    nullable: true,
    description: 'One tenant the viewer may see (tenant:read). Otherwise null, with not_found (forbidden or mfa_required for a member without the right); the rest of the response stands.',
    args: { id: t.arg.id({ required: true, description: 'The tenant’s id.' }) },
    resolve: (query, _root, args, ctx) => ctx.services.tenants.get(ctx.caller, String(args.id), query),
  }),
}));

type Tenant = import('../generated/prisma/client.js').Tenant;
const TenantPayload = builder.objectRef<{ tenant: Tenant }>('TenantPayload').implement({
  description: 'The tenant after the change.',
  fields: (t) => ({ tenant: t.expose('tenant', { type: TenantRef }) }),
});
const tenantPayload = async (tenant: Promise<Tenant>) => ({ tenant: await tenant });

const CreateTenantInput = builder.inputType('CreateTenantInput', {
  description: 'A new tenant; the caller becomes its owner.',
  fields: (t) => ({
    displayName: t.string({ required: true }),
    slug: t.string({ required: false, description: 'Derived from the display name when omitted.' }),
    signupMode: t.field({ type: SignupMode, required: false }),
    allowedDomains: t.stringList({ required: false, description: 'Only domains the tenant verified (verifyDomain); bad_request domain_not_verified otherwise.' }),
  }),
});
const UpdateTenantInput = builder.inputType('UpdateTenantInput', {
  description: 'The tenant and the fields to change (omitted fields stay).',
  fields: (t) => ({
    tenantId: t.id({ required: true }),
    displayName: t.string({ required: false }),
    slug: t.string({ required: false }),
    signupMode: t.field({ type: SignupMode, required: false }),
    allowedDomains: t.stringList({ required: false, description: 'Only domains the tenant verified (verifyDomain); bad_request domain_not_verified otherwise.' }),
  }),
});
const UpdateTenantConfigInput = builder.inputType('UpdateTenantConfigInput', {
  description: 'Settings to set or remove.',
  fields: (t) => ({
    tenantId: t.id({ required: true }),
    config: t.field({
      type: 'JSON',
      required: true,
      description: 'Keys to set (null removes one): locale, logoUrl, primaryColor, supportEmail, mfaRequired, sessionTimeoutMinutes.',
    }),
  }),
});
const TenantIdInput = builder.inputType('TenantIdInput', { description: 'A tenant, by id.', fields: (t) => ({ tenantId: t.id({ required: true }) }) });
const TransferTenantOwnershipInput = builder.inputType('TransferTenantOwnershipInput', {
  description: 'The new owner, and the role the previous owner keeps.',
  fields: (t) => ({
    tenantId: t.id({ required: true }),
    newOwnerId: t.id({ required: true, description: 'A member of the tenant.' }),
    previousOwnerRole: t.string({ required: false, description: 'The role the previous owner keeps (default member; owner keeps both as owners).' }),
  }),
});

builder.mutationFields((t) => ({
  createTenant: t.field({
    type: TenantPayload,
    description: 'Creates a tenant; the caller becomes its owner.',
    args: { input: t.arg({ type: CreateTenantInput, required: true }) },
    resolve: (_root, { input }, ctx) => tenantPayload(ctx.services.tenants.create(input, ctx.caller)),
  }),
  updateTenant: t.field({
    type: TenantPayload,
    description: 'Needs tenant:write.',
    args: { input: t.arg({ type: UpdateTenantInput, required: true }) },
    resolve: (_root, { input }, ctx) => tenantPayload(ctx.services.tenants.update(input, ctx.caller)),
  }),
  updateTenantConfig: t.field({
    type: TenantPayload,
    description: 'Needs tenant:write. Unknown keys are refused by name.',
    args: { input: t.arg({ type: UpdateTenantConfigInput, required: true }) },
    resolve: (_root, { input }, ctx) => tenantPayload(ctx.services.tenants.updateConfig({ tenantId: String(input.tenantId), config: input.config }, ctx.caller)),
  }),
  deleteTenant: t.field({
    type: TenantPayload,
    description: 'Owner only. Ends every membership, pending invitation and API key of the tenant.',
    args: { input: t.arg({ type: TenantIdInput, required: true }) },
    resolve: (_root, { input }, ctx) => tenantPayload(ctx.services.tenants.remove({ tenantId: String(input.tenantId) }, ctx.caller)),
  }),
  transferTenantOwnership: t.field({
    type: TenantPayload,
    description: 'Owner only; the only way to make someone an owner.',
    args: { input: t.arg({ type: TransferTenantOwnershipInput, required: true }) },
    resolve: (_root, { input }, ctx) => tenantPayload(ctx.services.tenants.transferOwnership(input, ctx.caller)),
  }),
}));
