import { AppError } from '../errors.js';
import type { Viewer } from './viewer.js';

/** "Fresh" MFA: a field that needs MFA within this many seconds reports fresh_required rather than stale_mfa. */
export const FRESH_MFA_SECONDS = 30;

export interface ScopeContext {
  viewer: Viewer | null;
  now: () => number;
  isTenantMember: (tenantId: string) => Promise<boolean>;
  /** The viewer's effective permissions in the active tenant (tenant_id), loaded on first use. */
  activeTenantPermissions: () => Promise<readonly string[]>;
  /** Whether the viewer administers the realm, loaded on first use. */
  isRealmAdmin: () => Promise<boolean>;
}

/** The scope-auth scopes of the schema, evaluated for one request. */
export function scopesFor(ctx: ScopeContext) {
  const viewer = ctx.viewer;
  return {
    authenticated: viewer !== null,
    aal2: viewer?.aal === 'aal2',
    mfaFresh: (maxAgeSeconds: number) => Boolean(viewer?.mfaAt && ctx.now() - viewer.mfaAt.getTime() <= maxAgeSeconds * 1000),
    tenantMember: (tenantId: string) => (viewer ? ctx.isTenantMember(tenantId) : false),
    permission: async (name: string) => (viewer ? (await ctx.activeTenantPermissions()).includes(name) : false),
    realmAdmin: async () => (viewer ? ctx.isRealmAdmin() : false),
    serviceRole: viewer?.serviceRole ?? false,
  };
}

interface Failure {
  kind: string;
  scope?: string;
  parameter?: unknown;
  failures?: Failure[];
}

function firstScopeFailure(failure: Failure): Failure | null {
  if (failure.scope) return failure;
  for (const inner of failure.failures ?? []) {
    const found = firstScopeFailure(inner);
    if (found) return found;
  }
  return null;
}

/**
 * The error for a refused field: unauthenticated without a viewer; mfa_required
 * (reason no_mfa | stale_mfa | fresh_required) for MFA scopes; forbidden otherwise.
 */
export function authFailureError(viewer: Viewer | null, failure: Failure): AppError {
  if (!viewer) return new AppError('unauthenticated');
  const scope = firstScopeFailure(failure);
  if (scope?.scope === 'aal2') return new AppError('mfa_required', undefined, { reason: 'no_mfa' });
  if (scope?.scope === 'mfaFresh') {
    const maxAgeSeconds = Number(scope.parameter);
    const reason = !viewer.mfaAt ? 'no_mfa' : maxAgeSeconds <= FRESH_MFA_SECONDS ? 'fresh_required' : 'stale_mfa';
    return new AppError('mfa_required', undefined, { reason, maxAgeSeconds });
  }
  return new AppError('forbidden');
}
