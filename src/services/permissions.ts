// The permissions idgraph itself checks. Realms may define roles with further
// permission strings for their own applications; idgraph stores those as given.
export const builtinPermissions = [
  'tenant:read',
  'tenant:write',
  'members:manage',
  'roles:manage',
  'invitations:manage',
  'apikeys:manage',
  'audit:read',
  'otp:issue',
  'otp:verify',
  'domains:manage',
  'webhooks:manage',
] as const;

/** Members of a realm's base admin tenant whose role grants this administer the realm. */
export const REALM_ADMIN_PERMISSION = 'tenant:write';

export type BuiltinPermission = (typeof builtinPermissions)[number];

export const systemRoles = [
  { name: 'owner', displayName: 'Owner', permissions: [...builtinPermissions] },
  { name: 'member', displayName: 'Member', permissions: ['tenant:read'] },
] as const;
