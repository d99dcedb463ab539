import { z } from 'zod';
import { AppError, assertThat } from '../errors.js';
import type { EventStore, Tx } from '../events/store.js';
import type { Domain, Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { AccessService } from './access.js';
import { type Caller, eventMetadata, requireViewer } from './caller.js';
import type { DomainVerifier } from './domain-verifier.js';
import { fields, parseInput } from './input.js';
import { lockFor } from './locks.js';
import type { RealmService } from './realms.js';
import { randomUrlToken } from '../crypto.js';

export interface DomainServiceDeps {
  db: PrismaClient;
  events: EventStore;
  access: AccessService;
  realms: RealmService;
  clock: () => number;
  verifier: DomainVerifier;
}

const claimSchema = z.object({
  tenantId: fields.uuid,
  domain: fields.domain,
  method: z
    .enum(['dns_txt', 'html_file'])
    .nullish()
    .transform((value) => value ?? 'dns_txt'),
});
const verifySchema = z.object({ domainId: fields.uuid });
const listSchema = z.object({ tenantId: fields.uuid });

const domainTaken = () => new AppError('conflict', 'Another tenant has verified this domain.', { reason: 'domain_taken' });

/**
 * Domains a tenant claims and proves it controls (a TXT record or a file on
 * the web server). A verified domain belongs to one tenant per realm; it is
 * what allowlist auto-join matches email domains against.
 */
export function createDomainService({ db, events, access, realms, clock, verifier }: DomainServiceDeps) {
  // One realm-wide decision per domain name: claims and verifications of a name serialise.
  const lockDomain = (tx: Tx, realmId: string, domain: string) => lockFor(tx, `domain:${realmId}:${domain}`);

  const verifiedByAnotherTenant = async (tx: Tx, { realmId, tenantId, domain }: { realmId: string; tenantId: string; domain: string }) =>
    (await tx.domain.count({ where: { domain, status: 'verified', tenantId: { not: tenantId }, tenant: { realmId, deletedAt: null } } })) > 0;

  return {
    /**
     * Starts (or repeats) a claim. Claiming again returns the same pending
     * challenge; with the other method it switches the method and keeps the
     * challenge; a domain this tenant already verified comes back as it is.
     */
    async claimDomain(input: z.input<typeof claimSchema>, caller: Caller): Promise<{ domain: Domain }> {
      const { tenantId, domain, method } = parseInput(claimSchema, input);
      const { tenant, viewer } = await access.tenantAccess(caller, tenantId, 'domains:manage');
      return db.$transaction(async (tx) => {
        await lockDomain(tx, tenant.realmId, domain);
        const existing = await tx.domain.findUnique({ where: { tenantId_domain: { tenantId, domain } } });
        if (existing?.status === 'verified') return { domain: existing };
        if (await verifiedByAnotherTenant(tx, { realmId: tenant.realmId, tenantId, domain })) throw domainTaken();
        if (existing?.method === method) return { domain: existing };
        const event = { aggregateType: 'domain', realmId: tenant.realmId, tenantId, metadata: eventMetadata(caller) };
        if (existing) {
          const updated = await tx.domain.update({ where: { id: existing.id }, data: { method } });
          await events.appendEvent(tx, {
            ...event,
            aggregateId: existing.id,
            type: 'domain.method_changed',
            payload: { domain, method, previousMethod: existing.method },
          });
          return { domain: updated };
        }
        // Public by design (it is published in DNS or on the web): random so no one else can pre-publish it.
        const challenge = randomUrlToken();
        const created = await tx.domain.create({ data: { tenantId, domain, method, challenge, claimedById: viewer.userId } });
        await events.appendEvent(tx, { ...event, aggregateId: created.id, type: 'domain.claimed', payload: { domain, method } });
        return { domain: created };
      });
    },

    /**
     * Checks the published challenge and, when found, marks the domain
     * verified. Not published: bad_request (reason challenge_not_found), the
     * claim stays pending. The lookup failing: upstream_unavailable.
     */
    async verifyDomain(input: z.input<typeof verifySchema>, caller: Caller): Promise<{ domain: Domain }> {
      requireViewer(caller);
      const { domainId } = parseInput(verifySchema, input);
      const found = await db.domain.findFirst({ where: { id: domainId, tenant: { deletedAt: null } } });
      // A domain of a tenant the caller may not see is answered like a nonexistent one.
      const tenantAccess = found
        ? await access.tenantAccess(caller, found.tenantId, 'domains:manage').catch((error: unknown) => {
            if (error instanceof AppError && error.code === 'not_found') return null;
            throw error;
          })
        : null;
      if (!found || !tenantAccess) throw new AppError('not_found', 'No such domain.');
      if (found.status === 'verified') return { domain: found };
      const target = { realmId: tenantAccess.tenant.realmId, tenantId: found.tenantId, domain: found.domain };
      if (await verifiedByAnotherTenant(db, target)) throw domainTaken();

      let published: boolean;
      try {
        published = await verifier.isPublished(found);
      } catch (error) {
        throw new AppError('upstream_unavailable', 'The domain check could not be made; try again later.', { reason: 'domain_check_failed' }, { cause: error });
      }
      assertThat(published, 'bad_request', 'The challenge was not found where the method says to publish it.', { reason: 'challenge_not_found' });

      return db.$transaction(async (tx) => {
        await lockDomain(tx, target.realmId, target.domain);
        if (await verifiedByAnotherTenant(tx, target)) throw domainTaken();
        const [verified] = await tx.domain.updateManyAndReturn({
          where: { id: found.id, status: 'pending' },
          data: { status: 'verified', verifiedAt: new Date(clock()) },
        });
        // Verified by a concurrent call of this tenant: that call recorded the event.
        if (!verified) return { domain: await tx.domain.findUniqueOrThrow({ where: { id: found.id } }) };
        await events.appendEvent(tx, {
          aggregateType: 'domain',
          aggregateId: found.id,
          type: 'domain.verified',
          realmId: target.realmId,
          tenantId: found.tenantId,
          payload: { domain: found.domain, method: found.method },
          metadata: eventMetadata(caller),
        });
        return { domain: verified };
      });
    },

    /** A tenant's domains, pending and verified, oldest claim first (domains:manage: pending claims are work in progress). */
    async listDomains(input: { tenantId: string }, caller: Caller) {
      const { tenantId } = parseInput(listSchema, input);
      await access.tenantAccess(caller, tenantId, 'domains:manage');
      return {
        page: <Q extends Omit<Prisma.DomainFindManyArgs, 'where' | 'orderBy'>>(query: Q) =>
          db.domain.findMany({ ...query, where: { tenantId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
        count: () => db.domain.count({ where: { tenantId } }),
      };
    },
  };
}

export type DomainService = ReturnType<typeof createDomainService>;
