import { z } from 'zod';
import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import type { IdentityProvider } from '../identity/provider.js';
import type { AccessService } from './access.js';
import { realmEventScope } from './audit.js';
import type { Caller } from './caller.js';
import { parseInput } from './input.js';
import type { RealmService } from './realms.js';
import { realmAdminCheck } from './realm-admin.js';

export interface AdminStats {
  realms: number;
  tenants: number;
  users: number;
  /** Null when sessions live at an external GoTrue, which idgraph cannot count. */
  activeSessions: number | null;
  eventsLast24h: number;
}

export interface AdminSearchHit {
  kind: 'user' | 'tenant' | 'realm';
  id: string;
  title: string;
  subtitle: string | null;
}

export const ADMIN_SEARCH_MAX = 50;
const DAY_MS = 24 * 60 * 60 * 1000;

const searchInput = z.object({
  q: z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters'),
  first: z.number().int().min(1).max(ADMIN_SEARCH_MAX, `must be at most ${ADMIN_SEARCH_MAX}`).nullish(),
});

/**
 * The SQL of adminSearch, a case-insensitive prefix match. Emails and slugs are
 * stored lowercase: they take `^@` (starts with) on the lowercased text, served
 * by SP-GiST indexes. Display names take ILIKE with the LIKE wildcards in q
 * escaped, served by pg_trgm GiST indexes. Realms, then the realm's live
 * tenants, then users.
 */
export function adminSearchQuery(realmId: string, q: string, limit: number): Prisma.Sql {
  const lower = q.toLowerCase();
  const prefix = `${q.replace(/[\\%_]/g, '\\$&')}%`;
  return Prisma.sql`
    SELECT kind, id, title, subtitle FROM (
      (SELECT 0 AS rank, 'realm' AS kind, id::text AS id, display_name AS title, slug AS subtitle FROM realms
        WHERE slug ^@ ${lower} OR display_name ILIKE ${prefix}
        ORDER BY display_name, id LIMIT ${limit})
      UNION ALL
      (SELECT 1, 'tenant', id::text, display_name, slug FROM tenants
        WHERE realm_id = ${realmId}::uuid AND deleted_at IS NULL AND (slug ^@ ${lower} OR display_name ILIKE ${prefix})
        ORDER BY display_name, id LIMIT ${limit})
      UNION ALL
      (SELECT 2, 'user', id::text, COALESCE(display_name, email, phone, id::text), email FROM users
        WHERE email ^@ ${lower} OR display_name ILIKE ${prefix}
        ORDER BY email, id LIMIT ${limit})
    ) hits
    ORDER BY rank, title, id
    LIMIT ${limit}`;
}

export interface AdminServiceDeps {
  db: PrismaClient;
  access: AccessService;
  realms: RealmService;
  clock: () => number;
  /** The embedded engine keeps sessions in this database; an external GoTrue does not. */
  providerKind: IdentityProvider['kind'];
}

/** The realm admin's overview: counts and search. */
export function createAdminService({ db, access, realms, clock, providerKind }: AdminServiceDeps) {
  const adminRealm = realmAdminCheck(access, realms);

  return {
    /** Realms, live tenants of the realm, users, open sessions and the last 24 hours of the realm's events, in one statement. */
    async stats(caller: Caller): Promise<AdminStats> {
      const realmId = await adminRealm(caller);
      const now = new Date(clock());
      const sessions =
        providerKind === 'embedded'
          ? Prisma.sql`(SELECT count(*) FROM auth_sessions WHERE not_after IS NULL OR not_after > ${now})::int`
          : Prisma.sql`NULL::int`;
      const [row] = await db.$queryRaw<AdminStats[]>`
        SELECT (SELECT count(*) FROM realms)::int AS realms,
               (SELECT count(*) FROM tenants WHERE realm_id = ${realmId}::uuid AND deleted_at IS NULL)::int AS tenants,
               (SELECT count(*) FROM users)::int AS users,
               ${sessions} AS "activeSessions",
               (SELECT count(*) FROM events WHERE occurred_at > ${new Date(now.getTime() - DAY_MS)} AND ${realmEventScope(realmId)})::int AS "eventsLast24h"`;
      return row!;
    },

    /** Users, tenants and realms whose names, emails or slugs start with q (case-insensitive). */
    async search(input: { q: string; first?: number | null }, caller: Caller): Promise<AdminSearchHit[]> {
      const { q, first } = parseInput(searchInput, input);
      const realmId = await adminRealm(caller);
      return db.$queryRaw<AdminSearchHit[]>(adminSearchQuery(realmId, q, first ?? 20));
    },
  };
}

export type AdminService = ReturnType<typeof createAdminService>;
