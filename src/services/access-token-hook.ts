import type { AmrEntry } from '../identity/types.js';
import type { TenantClaims } from './tenant-claims.js';

/** GoTrue's custom access token hook input (GOTRUE.md §10). */
export interface AccessTokenHookInput {
  user_id: string;
  claims: Record<string, unknown> & { session_id?: string; amr?: AmrEntry[] };
  authentication_method?: string;
}

const MFA_METHODS = new Set(['totp', 'mfa/phone', 'mfa/webauthn']);

/**
 * The claims GoTrue is about to sign, plus idgraph's: the session's tenant
 * (tenant_id, tenant_role, from the tenant switchTenant stored or the only
 * membership) and mfa_at, when the session last passed a second factor.
 * GoTrue's own claims are kept as they are (it refuses tokens missing them).
 */
export function createAccessTokenHook({ tenantClaims }: { tenantClaims: TenantClaims }) {
  return {
    async claims(input: AccessTokenHookInput): Promise<{ claims: Record<string, unknown> }> {
      const { claims } = input;
      const sessionId = typeof claims.session_id === 'string' ? claims.session_id : null;
      const tenant = sessionId ? await tenantClaims.claimsFor({ userId: input.user_id, sessionId }) : {};
      const mfaTimes = (Array.isArray(claims.amr) ? claims.amr : []).filter((e) => MFA_METHODS.has(e.method)).map((e) => e.timestamp);
      return { claims: { ...claims, ...tenant, ...(mfaTimes.length ? { mfa_at: Math.max(...mfaTimes) } : {}) } };
    },
  };
}

export type AccessTokenHook = ReturnType<typeof createAccessTokenHook>;
