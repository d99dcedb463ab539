import { AppError } from '../errors.js';
import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import type { ClaimsExtension } from '../identity/embedded/sessions.js';
import { isUuid } from '../uuid.js';

interface MembershipWithChoice {
  tenantId: string;
  role: string;
  chosenTenantId: string | null;
  claims: Record<string, unknown> | null;
}

/**
 * The user's live memberships with role names, oldest first, and the session's
 * choice, as one jsonb array: a scalar subquery over SQL expressions for the
 * user id and the session id, so the statement that mints a token can carry it.
 */
const membershipsWithChoice = (userId: Prisma.Sql, sessionId: Prisma.Sql) => Prisma.sql`
  (SELECT COALESCE(jsonb_agg(jsonb_build_object(
            'tenantId', m.tenant_id, 'role', r.name, 'chosenTenantId', st.tenant_id, 'claims', st.claims
          ) ORDER BY m.created_at), '[]')
   FROM memberships m
   JOIN tenants t ON t.id = m.tenant_id AND t.deleted_at IS NULL
   JOIN roles r ON r.id = m.role_id
   LEFT JOIN session_tenants st ON st.session_id = ${sessionId}
   WHERE m.user_id = ${userId})`;

/**
 * Which tenant a session acts in, and the claims that say so (tenant_id,
 * tenant_role). A session with a chosen tenant uses it while the membership
 * lasts; otherwise a user in exactly one tenant acts in that one; a user in
 * several gets no tenant claims until one is chosen.
 */
function claimsFrom(memberships: MembershipWithChoice[]): Record<string, unknown> {
  const chosenActive = memberships.find((m) => m.tenantId === m.chosenTenantId);
  const active = chosenActive ?? (memberships.length === 1 ? memberships[0] : undefined);
  if (!active) return {};
  // Custom claims belong to the tenant they were chosen with, and never override the tenant claims.
  const custom = chosenActive?.claims ?? {};
  return { ...custom, tenant_id: active.tenantId, tenant_role: active.role };
}

export function createTenantClaims({ db }: { db: PrismaClient }) {
  /**
   * The claims in a statement of their own (the GoTrue custom access token
   * hook); as the engine's claims extension, `sql` lets the engine compute
   * them inside the statement that reads the session instead.
   */
  const claimsFor: ClaimsExtension = Object.assign(
    async ({ userId, sessionId }: { userId: string; sessionId: string }): Promise<Record<string, unknown>> => {
      if (!isUuid(userId) || !isUuid(sessionId)) return {};
      const [row] = await db.$queryRaw<Array<{ memberships: MembershipWithChoice[] }>>`
        SELECT ${membershipsWithChoice(Prisma.sql`${userId}::uuid`, Prisma.sql`${sessionId}::uuid`)} AS memberships`;
      return claimsFrom(row?.memberships ?? []);
    },
    { sql: { column: membershipsWithChoice, claims: (value: unknown) => claimsFrom(value as MembershipWithChoice[]) } },
  );

  return {
    claimsFor,

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
