/** Who is calling. Built per request from a verified access token or API key; null when anonymous. */
export interface Viewer {
  /** The user acting; for an API key, the key's owner. */
  userId: string;
  sessionId: string | null;
  jti: string | null;
  /** When the access token expires: long-lived connections re-check it per operation. */
  expiresAt: Date;
  aal: 'aal1' | 'aal2';
  mfaAt: Date | null;
  /** The active tenant (tenant_id claim) and the viewer's role there (tenant_role). */
  tenantId: string | null;
  tenantRole: string | null;
  serviceRole: boolean;
  /**
   * Set when a machine caller authenticated with an API key (or its platform
   * token): the key acts only in its tenant, with at most its scopes.
   */
  apiKey: { id: string; tenantId: string; scopes: readonly string[] } | null;
}
