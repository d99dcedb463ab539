import { AppError } from '../errors.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import { isUuid } from '../uuid.js';

/**
 * Which tenant a session acts in, and the claims that say so (tenant_id,
 * tenant_role). A session with a chosen tenant uses it while the membership
 * lasts; otherwise a user in exactly one tenant acts in that one; a user in
 * several gets no tenant claims until one is chosen.
 */
export function createTenantClaims({ db }: { db: PrismaClient }) {
  /** The user's live memberships with role names, and the session's choice, in one statement (it runs on every token minted). */
  function membershipsWithChoice(userId: string, sessionId: string) {
    return db.$queryRaw<Array<{ tenantId: string; role: string; chosenTenantId: string | null; claims: Record<string, unknown> | null }>>`
      SELECT m.tenant_id::text AS "tenantId", r.name AS role, st.tenant_id::text AS "chosenTenantId", st.claims
      FROM memberships m
      JOIN tenants t ON t.id = m.tenant_id AND t.deleted_at IS NULL
      JOIN roles r ON r.id = m.role_id
      LEFT JOIN session_tenants st ON st.session_id = ${sessionId}::uuid
      WHERE m.user_id = ${userId}::uuid
      ORDER BY m.created_at ASC`;
  }

  return {
    /** For the engine's token minting (and the GoTrue custom access token hook). */
    async claimsFor({ userId, sessionId }: { userId: string; sessionId: string }): Promise<Record<string, unknown>> {
      if (!isUuid(userId) || !isUuid(sessionId)) return {};
      const memberships = await membershipsWithChoice(userId, sessionId);
      const chosenActive = memberships.find((m) => m.tenantId === m.chosenTenantId);
      const active = chosenActive ?? (memberships.length === 1 ? memberships[0] : undefined);
      if (!active) return {};
      // Custom claims belong to the tenant they were chosen with, and never override the tenant claims.
      const custom = chosenActive?.claims ?? {};
      return { ...custom, tenant_id: active.tenantId, tenant_role: active.role };
    },

    /** Records the session's tenant (and custom claims, replacing earlier ones); tenant_invalid unless the user is a member of it. */
    async choose(input: { userId: string; sessionId: string; tenantId: string; claims?: Record<string, string | number | boolean> }) {
      const valid =
        isUuid(input.tenantId) &&
        (await db.membership.findFirst({ where: { userId: input.userId, tenantId: input.tenantId, tenant: { deletedAt: null } }, select: { id: true } }));
      if (!valid) throw new AppError('tenant_invalid');
      await db.sessionTenant.upsert({
        where: { sessionId: input.sessionId },
        create: { sessionId: input.sessionId, userId: input.userId, tenantId: input.tenantId, claims: input.claims ?? {} },
        update: { tenantId: input.tenantId, claims: input.claims ?? {} },
      });
    },
  };
}

export type TenantClaims = ReturnType<typeof createTenantClaims>;
