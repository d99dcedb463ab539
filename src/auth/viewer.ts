/** Who is calling. Built per request from a verified access token; null when anonymous. */
export interface Viewer {
  userId: string;
  sessionId: string | null;
  jti: string | null;
  /** When the access token expires: long-lived connections re-check it per operation. */
  expiresAt: Date;
  aal: 'aal1' | 'aal2';
  mfaAt: Date | null;
  realmId: string | null;
  /** The active tenant (tenant_id claim) and the viewer's role there (tenant_role). */
  tenantId: string | null;
  tenantRole: string | null;
  /** Permissions in the active tenant. */
  permissions: readonly string[];
  realmAdmin: boolean;
  serviceRole: boolean;
}
