/** Who is calling. Built per request by the authentication layer; null when anonymous. */
export interface Viewer {
  userId: string;
  realmId: string | null;
  tenantId: string | null;
  /** Permissions in the active tenant. */
  permissions: readonly string[];
  realmAdmin: boolean;
  serviceRole: boolean;
}
