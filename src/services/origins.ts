import { domainToASCII } from 'node:url';
import { z } from 'zod';
import { AppError, assertThat } from '../errors.js';
import type { EventStore, Tx } from '../events/store.js';
import type { Origin, Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { AccessService } from './access.js';
import { type Caller, eventMetadata } from './caller.js';
import { parseInput } from './input.js';
import type { RealmService } from './realms.js';
import { realmAdminCheck } from './realm-admin.js';

const hostLabel = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * The bare hostname of an origin or hostname: lowercase, no scheme, port, path,
 * query, fragment or trailing dot, IDNs in punycode. Null when there is none
 * (empty, credentials, wildcards, the opaque origin "null").
 */
function hostOf(raw: string): string | null {
  const value = raw.trim().toLowerCase();
  if (value === '' || value.length > 2048) return null;
  let url: URL;
  try {
    url = new URL(`http://${value.replace(/^[a-z][a-z0-9+.-]*:\/\//, '')}`);
  } catch {
    return null;
  }
  if (url.username || url.password) return null;
  if (url.hostname.startsWith('[')) return url.hostname;
  const host = domainToASCII(url.hostname.replace(/\.$/, ''));
  if (!host || host.length > 253 || host === 'null') return null;
  return host.split('.').every((label) => hostLabel.test(label)) ? host : null;
}

const originInput = z.object({
  origin: z.string().transform((value, ctx) => {
    const host = hostOf(value);
    if (host) return host;
    ctx.issues.push({ code: 'custom', input: value, message: 'must be a hostname or an origin such as https://app.example.com' });
    return z.NEVER;
  }),
});

/** NormalizeOrigin (seed 002): the bare hostname the allowlist stores; bad_request (field origin) when there is none. */
export function normalizeOrigin(raw: string): string {
  return parseInput(originInput, { origin: raw }).origin;
}

/** What a request says about the browser page behind it, as the transport read it from the headers. */
export interface RequestOrigin {
  /** The Origin header. */
  origin: string | null;
  /** Sec-Fetch-Site and Sec-Fetch-Mode: the fetch metadata browsers send. */
  fetchSite: string | null;
  fetchMode: string | null;
}

export interface OriginServiceDeps {
  db: PrismaClient;
  events: EventStore;
  access: AccessService;
  realms: RealmService;
  clock: () => number;
  /** How long a replica trusts its cached allowlist; changes made on it invalidate it at once. */
  cacheTtlMs?: number;
}

/**
 * The realm's browser-origin allowlist and its enforcement on auth calls.
 *
 * With an empty list every origin is allowed. Otherwise an Origin whose host
 * is not on the list is realm_origin_mismatch, and a browser call without an
 * Origin is missing_origin. A browser call is one carrying fetch metadata:
 * Sec-Fetch-Site, which browsers send with every request (with Sec-Fetch-Mode).
 * Sec-Fetch-Mode alone does not count: Node's fetch adds `sec-fetch-mode: cors`
 * to every request, so servers using it, like curl, send no Origin and pass.
 * Two browser cases pass without an Origin check: same-origin requests (pages
 * idgraph serves itself, such as GraphiQL) and top-level navigations, which
 * never carry an Origin on GET (links opened from emails).
 */
export function createOriginService({ db, events, access, realms, clock, cacheTtlMs = 10_000 }: OriginServiceDeps) {
  const cache = new Map<string, { hosts: Promise<ReadonlySet<string>>; expiresAt: number }>();

  function allowlist(realmId: string): Promise<ReadonlySet<string>> {
    const cached = cache.get(realmId);
    if (cached && cached.expiresAt > clock()) return cached.hosts;
    const hosts = db.origin
      .findMany({ where: { realmId }, select: { host: true } })
      .then((rows) => new Set(rows.map((row) => row.host)));
    cache.set(realmId, { hosts, expiresAt: clock() + cacheTtlMs });
    // A failed read is not remembered: the next call tries again.
    hosts.catch(() => {
      if (cache.get(realmId)?.hosts === hosts) cache.delete(realmId);
    });
    return hosts;
  }

  /** Appends the allowlist change, in the transaction that made it. */
  const record = (tx: Tx, type: 'origin.added' | 'origin.removed', origin: Origin, caller: Caller) =>
    events.appendEvent(tx, {
      aggregateType: 'origin',
      aggregateId: origin.id,
      type,
      realmId: origin.realmId,
      payload: { host: origin.host },
      metadata: eventMetadata(caller),
    });

  const adminRealm = realmAdminCheck(access, realms);

  return {
    /** The realm's allowlist, for realm admins. */
    async list(caller: Caller) {
      const realmId = await adminRealm(caller);
      return {
        page: <Q extends Omit<Prisma.OriginFindManyArgs, 'where' | 'orderBy'>>(query: Q) => db.origin.findMany({ ...query, where: { realmId }, orderBy: { host: 'asc' } }),
        count: () => db.origin.count({ where: { realmId } }),
      };
    },

    /** Adds a host; adding one already on the list returns it and appends nothing. */
    async add(input: { origin: string }, caller: Caller) {
      const { origin: host } = parseInput(originInput, input);
      const realmId = await adminRealm(caller);
      const origin = await db.$transaction(async (tx) => {
        const { count } = await tx.origin.createMany({
          data: [{ realmId, host, createdById: caller.viewer?.userId ?? null }],
          skipDuplicates: true,
        });
        const row = await tx.origin.findUniqueOrThrow({ where: { realmId_host: { realmId, host } } });
        if (count === 1) await record(tx, 'origin.added', row, caller);
        return row;
      });
      cache.delete(realmId);
      return origin;
    },

    /** Removes a host from the list; not_found when it is not on it. */
    async remove(input: { origin: string }, caller: Caller) {
      const { origin: host } = parseInput(originInput, input);
      const realmId = await adminRealm(caller);
      const origin = await db.$transaction(async (tx) => {
        const row = await tx.origin.findUnique({ where: { realmId_host: { realmId, host } } });
        assertThat(row, 'not_found', 'This origin is not on the allowlist.');
        const { count } = await tx.origin.deleteMany({ where: { id: row.id } });
        assertThat(count === 1, 'not_found', 'This origin is not on the allowlist.');
        await record(tx, 'origin.removed', row, caller);
        return row;
      });
      cache.delete(realmId);
      return origin;
    },

    /** Refuses an auth call from a browser page the realm does not allow (see above). */
    async assertRequestAllowed(request: RequestOrigin): Promise<void> {
      const allowed = await allowlist(await realms.defaultRealmId());
      if (allowed.size === 0 || request.fetchSite === 'same-origin') return;
      if (request.origin !== null) {
        const host = hostOf(request.origin);
        if (host && allowed.has(host)) return;
        throw new AppError('realm_origin_mismatch');
      }
      if (request.fetchSite !== null && request.fetchMode !== 'navigate') throw new AppError('missing_origin');
    },

    /**
     * Which page may read GraphQL answers (CORS). With an empty allowlist any
     * page may, without credentials, so cookies (of a proxy in front of idgraph,
     * say) never ride along cross-site; otherwise only a page whose host is
     * listed, with credentials.
     */
    async corsAccess(origin: string): Promise<'any' | 'listed' | 'none'> {
      const allowed = await allowlist(await realms.defaultRealmId());
      if (allowed.size === 0) return 'any';
      const host = hostOf(origin);
      return host && allowed.has(host) ? 'listed' : 'none';
    },
  };
}

export type OriginService = ReturnType<typeof createOriginService>;
