import { AppError } from '../errors.js';
import type { PremintedChallenge } from '../services/access.js';
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
  /** Called once an MFA scope fails: opens a challenge the refusal can carry (null when none can be opened). */
  premintChallenge: () => Promise<PremintedChallenge | null>;
}

/** What an MFA scope failure leaves for the error it becomes. */
export interface ScopeFailureState {
  pending?: Promise<PremintedChallenge | null>;
  challenge?: PremintedChallenge | null;
}

/** The scope-auth scopes of the schema, evaluated for one request. */
export function scopesFor(ctx: ScopeContext, state: ScopeFailureState) {
  const viewer = ctx.viewer;
  /** A failed MFA scope pre-mints a challenge (once per request) before answering false. */
  const orChallenge = async (passed: boolean) => {
    if (!passed && viewer) {
      state.pending ??= ctx.premintChallenge();
      state.challenge = await state.pending;
    }
    return passed;
  };
  return {
    authenticated: viewer !== null,
    aal2: () => orChallenge(viewer?.aal === 'aal2'),
    mfaFresh: (maxAgeSeconds: number) => orChallenge(Boolean(viewer?.mfaAt && ctx.now() - viewer.mfaAt.getTime() <= maxAgeSeconds * 1000)),
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
export function authFailureError(viewer: Viewer | null, failure: Failure, state: ScopeFailureState = {}): AppError {
  if (!viewer) return new AppError('unauthenticated');
  const scope = firstScopeFailure(failure);
  const challenge = state.challenge ? { challenge: state.challenge } : {};
  if (scope?.scope === 'aal2') return new AppError('mfa_required', undefined, { reason: 'no_mfa', ...challenge });
  if (scope?.scope === 'mfaFresh') {
    const maxAgeSeconds = Number(scope.parameter);
    const reason = !viewer.mfaAt ? 'no_mfa' : maxAgeSeconds <= FRESH_MFA_SECONDS ? 'fresh_required' : 'stale_mfa';
    return new AppError('mfa_required', undefined, { reason, maxAgeSeconds, ...challenge });
  }
  return new AppError('forbidden');
}
