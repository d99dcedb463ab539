import type { Viewer } from '../auth/viewer.js';
import type { PrismaClient } from '../generated/prisma/client.js';

/** Read-side authorization facts the schema's scopes ask about. */
export function createAccessService({ db }: { db: PrismaClient }) {
  return {
    async isTenantMember(viewer: Viewer | null, tenantId: string): Promise<boolean> {
      if (!viewer || !/^[0-9a-f-]{36}$/i.test(tenantId)) return false;
      const membership = await db.membership.findFirst({
        where: { userId: viewer.userId, tenantId, tenant: { deletedAt: null } },
        select: { id: true },
      });
      return membership !== null;
    },
  };
}
