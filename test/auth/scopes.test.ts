import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { graphql } from 'graphql';
import { describe, expect, it } from 'vitest';
import { authFailureError, scopesFor } from '../../src/auth/scopes.js';
import type { Viewer } from '../../src/auth/viewer.js';

// The schema's scope functions and failure mapping, exercised through a real
// Pothos scope-auth schema: every scope's allow path and deny path.

interface Ctx {
  viewer: Viewer | null;
  now: () => number;
  memberOf: string[];
  permissions: string[];
  realmAdmin: boolean;
  scopeFailure: { challenge?: unknown };
  challenges: number;
}

const builder = new SchemaBuilder<{
  Context: Ctx;
  AuthScopes: { authenticated: boolean; aal2: boolean; mfaFresh: number; tenantMember: string; permission: string; realmAdmin: boolean; serviceRole: boolean };
}>({
  plugins: [ScopeAuthPlugin],
  scopeAuth: {
    authScopes: (ctx: Ctx) => scopesFor({
        viewer: ctx.viewer,
        now: ctx.now,
        isTenantMember: async (id) => ctx.memberOf.includes(id),
        activeTenantPermissions: async () => ctx.permissions,
        isRealmAdmin: async () => ctx.realmAdmin,
        premintChallenge: async () => {
          ctx.challenges += 1;
          return { factorId: 'f1', factorType: 'totp', challengeId: `c${ctx.challenges}`, expiresAt: 1 };
        },
      }, ctx.scopeFailure as never),
    unauthorizedError: (_p: unknown, ctx: Ctx, _i: unknown, result: { failure: Parameters<typeof authFailureError>[1] }) =>
      authFailureError(ctx.viewer, result.failure, ctx.scopeFailure as never),
  },
  // The app's builder also carries the prisma plugin, whose options are declared globally.
} as never);
const TENANT = '6f1c2a43-6f43-4a5b-9d55-1b9f0a4a0c11';
builder.queryType({
  fields: (t) => ({
    authenticated: t.boolean({ authScopes: { authenticated: true }, resolve: () => true }),
    aal2: t.boolean({ authScopes: { aal2: true }, resolve: () => true }),
    mfaWithin5Minutes: t.boolean({ authScopes: { mfaFresh: 300 }, resolve: () => true }),
    mfaFresh: t.boolean({ authScopes: { mfaFresh: 30 }, resolve: () => true }),
    tenantMember: t.boolean({ authScopes: { tenantMember: TENANT }, resolve: () => true }),
    permission: t.boolean({ authScopes: { permission: 'members:manage' }, resolve: () => true }),
    realmAdmin: t.boolean({ authScopes: { realmAdmin: true }, resolve: () => true }),
    serviceRole: t.boolean({ authScopes: { serviceRole: true }, resolve: () => true }),
  }),
});
const schema = builder.toSchema();

const now = Date.UTC(2026, 10, 23, 12, 0, 0);
const viewer = (overrides: Partial<Viewer> = {}): Viewer => ({
  userId: 'u1',
  sessionId: 's1',
  jti: 'j1',
  expiresAt: new Date(now + 3600_000),
  aal: 'aal1',
  mfaAt: null,
  tenantId: null,
  tenantRole: null,
  serviceRole: false,
  apiKey: null,
  ...overrides,
});

async function ask(field: string, v: Viewer | null, memberOf: string[] = [], facts: { permissions?: string[]; realmAdmin?: boolean } = {}) {
  const contextValue = { viewer: v, now: () => now, memberOf, permissions: facts.permissions ?? [], realmAdmin: facts.realmAdmin ?? false, scopeFailure: {}, challenges: 0 };
  const result = await graphql({ schema, source: `{ ${field} }`, contextValue });
  if (!result.errors) return 'allowed';
  const error = result.errors[0]!.originalError as { code?: string; extensions?: Record<string, unknown> };
  return { code: error.code, ...(error.extensions?.reason ? { reason: error.extensions.reason } : {}) };
}

describe('authorization scopes', () => {
  it('every scope refuses an anonymous caller with unauthenticated', async () => {
    for (const field of ['authenticated', 'aal2', 'mfaFresh', 'tenantMember', 'permission', 'realmAdmin', 'serviceRole']) {
      expect(await ask(field, null), field).toEqual({ code: 'unauthenticated' });
    }
  });

  it('authenticated: any verified viewer', async () => {
    expect(await ask('authenticated', viewer())).toBe('allowed');
  });

  it('aal2: allowed at aal2, mfa_required/no_mfa at aal1', async () => {
    expect(await ask('aal2', viewer({ aal: 'aal2', mfaAt: new Date(now) }))).toBe('allowed');
    expect(await ask('aal2', viewer())).toEqual({ code: 'mfa_required', reason: 'no_mfa' });
  });

  it('mfaFresh(300): within five minutes allowed; older is stale_mfa; never is no_mfa', async () => {
    expect(await ask('mfaWithin5Minutes', viewer({ aal: 'aal2', mfaAt: new Date(now - 299_000) }))).toBe('allowed');
    expect(await ask('mfaWithin5Minutes', viewer({ aal: 'aal2', mfaAt: new Date(now - 301_000) }))).toEqual({ code: 'mfa_required', reason: 'stale_mfa' });
    expect(await ask('mfaWithin5Minutes', viewer())).toEqual({ code: 'mfa_required', reason: 'no_mfa' });
  });

  it('a failed MFA scope carries a pre-minted challenge, opened once per request', async () => {
    const contextValue = { viewer: viewer(), now: () => now, memberOf: [], permissions: [], realmAdmin: false, scopeFailure: {}, challenges: 0 };
    const result = await graphql({ schema, source: '{ aal2 mfaFresh }', contextValue });
    expect(result.errors?.map((e) => (e.originalError as { extensions?: Record<string, unknown> }).extensions)).toEqual([
      { reason: 'no_mfa', challenge: { factorId: 'f1', factorType: 'totp', challengeId: 'c1', expiresAt: 1 } },
      { reason: 'no_mfa', maxAgeSeconds: 30, challenge: { factorId: 'f1', factorType: 'totp', challengeId: 'c1', expiresAt: 1 } },
    ]);
    expect(contextValue.challenges).toBe(1);
    // Passing scopes open nothing.
    const passing = { ...contextValue, viewer: viewer({ aal: 'aal2', mfaAt: new Date(now) }), scopeFailure: {}, challenges: 0 };
    await graphql({ schema, source: '{ aal2 mfaFresh }', contextValue: passing });
    expect(passing.challenges).toBe(0);
  });

  it('fresh MFA (30 s): a minute-old MFA is fresh_required', async () => {
    expect(await ask('mfaFresh', viewer({ aal: 'aal2', mfaAt: new Date(now - 10_000) }))).toBe('allowed');
    expect(await ask('mfaFresh', viewer({ aal: 'aal2', mfaAt: new Date(now - 60_000) }))).toEqual({ code: 'mfa_required', reason: 'fresh_required' });
  });

  it('tenantMember: members allowed, others forbidden', async () => {
    expect(await ask('tenantMember', viewer(), [TENANT])).toBe('allowed');
    expect(await ask('tenantMember', viewer(), [])).toEqual({ code: 'forbidden' });
  });

  it('permission: only with the permission in the active tenant', async () => {
    expect(await ask('permission', viewer(), [], { permissions: ['members:manage'] })).toBe('allowed');
    expect(await ask('permission', viewer(), [], { permissions: ['tenant:read'] })).toEqual({ code: 'forbidden' });
  });

  it('realmAdmin and serviceRole: only those roles', async () => {
    expect(await ask('realmAdmin', viewer(), [], { realmAdmin: true })).toBe('allowed');
    expect(await ask('realmAdmin', viewer())).toEqual({ code: 'forbidden' });
    expect(await ask('serviceRole', viewer({ serviceRole: true }))).toBe('allowed');
    expect(await ask('serviceRole', viewer(), [], { realmAdmin: true })).toEqual({ code: 'forbidden' });
  });
});
