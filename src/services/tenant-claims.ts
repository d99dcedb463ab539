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
  async function membershipsOf(userId: string) {
    return db.membership.findMany({
      where: { userId, tenant: { deletedAt: null } },
      select: { tenantId: true, role: { select: { name: true } } },
      orderBy: { createdAt: 'asc' },
    });
  }

  return {
    /** For the engine's token minting (and the GoTrue custom access token hook). */
    async claimsFor({ userId, sessionId }: { userId: string; sessionId: string }): Promise<Record<string, unknown>> {
      const [chosen, memberships] = await Promise.all([db.sessionTenant.findUnique({ where: { sessionId } }), membershipsOf(userId)]);
      const chosenActive = memberships.find((m) => m.tenantId === chosen?.tenantId);
      const active = chosenActive ?? (memberships.length === 1 ? memberships[0] : undefined);
      if (!active) return {};
      // Custom claims belong to the tenant they were chosen with, and never override the tenant claims.
      const custom = chosenActive ? (chosen!.claims as Record<string, unknown>) : {};
      return { ...custom, tenant_id: active.tenantId, tenant_role: active.role.name };
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
