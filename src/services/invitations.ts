import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AppError, assertThat } from '../errors.js';
import type { EventStore, Tx } from '../events/store.js';
import { Prisma, type Invitation, type PrismaClient } from '../generated/prisma/client.js';
import { constantTimeEqual, randomUrlToken, sha256Hex } from '../crypto.js';
import type { Notifier } from '../identity/notifier.js';
import type { User as ProviderUser } from '../identity/types.js';
import type { Logger } from '../log.js';
import { type AccessService, assertGrantable, grantAuthority } from './access.js';
import { type Caller, eventMetadata, requireViewer } from './caller.js';
import { fields, parseInput } from './input.js';

const DAY_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_INVITATION_DAYS = 7;
export const MAX_INVITATION_DAYS = 30;

/** What a client sees: the stored status, with pending ones past their expiry shown as expired. */
export type InvitationState = 'pending' | 'accepted' | 'revoked' | 'expired';

const createInput = z.object({
  tenantId: fields.uuid,
  email: fields.email,
  role: fields.roleName,
  expiresInDays: z
    .number()
    .int('must be a whole number of days')
    .min(1, 'must be at least 1')
    .max(MAX_INVITATION_DAYS, `must be at most ${MAX_INVITATION_DAYS}`)
    .nullish()
    .transform((days) => days ?? DEFAULT_INVITATION_DAYS),
});
const listInput = z.object({
  tenantId: fields.uuid,
  status: z.enum(['pending', 'accepted', 'revoked', 'expired']).nullish(),
});
const revokeInput = z.object({ invitationId: fields.uuid });
// 32 random bytes, base64url: anything else cannot be a token idgraph issued.
const acceptInput = z.object({ token: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be an invitation token') });

export interface InvitationServiceDeps {
  db: PrismaClient;
  events: EventStore;
  access: AccessService;
  /** The signed-in caller's provider record: its email and whether that email is verified. */
  providerUser: (caller: Caller) => Promise<ProviderUser>;
  notifier: Notifier;
  /** Where accept links point: the application, which signs the user in and calls acceptInvitation. */
  siteUrl: string;
  clock: () => number;
  log: Logger;
}

const conflictFor = { accepted: 'invitation_accepted', revoked: 'invitation_revoked' } as const;

/**
 * Invitations to join a tenant with a role of the realm catalog. The token is
 * shown once to the inviter and mailed to the invitee; only its SHA-256 is kept.
 */
export function createInvitationService({ db, events, access, providerUser, notifier, siteUrl, clock, log }: InvitationServiceDeps) {
  const stateOf = (invitation: Pick<Invitation, 'status' | 'expiresAt'>): InvitationState =>
    invitation.status === 'pending' && invitation.expiresAt.getTime() <= clock() ? 'expired' : invitation.status;

  /** Why an invitation that is no longer pending-and-unexpired cannot change. */
  function notPending(invitation: Pick<Invitation, 'status' | 'expiresAt'>): AppError {
    const state = stateOf(invitation);
    const reason = state === 'expired' ? 'invitation_expired' : conflictFor[state as keyof typeof conflictFor];
    return new AppError('conflict', `The invitation is ${state}.`, { reason });
  }

  const alreadyMember = () => new AppError('conflict', 'This address already belongs to a member of the tenant.', { reason: 'already_member' });

  // Serialises the invitation writes of one tenant, so that "one pending invitation
  // per address" holds when two inviters press the button at once, and a tenant
  // deleted meanwhile is not_found. NO KEY UPDATE leaves foreign-key inserts free.
  async function lockLiveTenant(tx: Tx, tenantId: string): Promise<{ displayName: string }> {
    const [tenant] = await tx.$queryRaw<{ displayName: string }[]>`
      SELECT display_name AS "displayName" FROM tenants WHERE id = ${tenantId}::uuid AND deleted_at IS NULL FOR NO KEY UPDATE`;
    assertThat(tenant, 'not_found', 'No such tenant.');
    return tenant;
  }

  async function deliver(invitation: Invitation, token: string, context: { tenantName: string; roleName: string }): Promise<boolean> {
    const link = `${siteUrl}/?invitation=${token}`;
    try {
      await notifier.send({
        channel: 'email',
        to: invitation.email,
        kind: 'invite',
        subject: `You are invited to join ${context.tenantName}`,
        body:
          `You have been invited to join ${context.tenantName} as ${context.roleName}.\n\n` +
          `Sign in with this email address and follow this link: ${link}\n\n` +
          `The invitation expires at ${invitation.expiresAt.toISOString()}.`,
      });
      return true;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      log.warn({ invitationId: invitation.id, tenantId: invitation.tenantId, reason }, 'invitation email not delivered');
      return false;
    }
  }

  return {
    stateOf,

    /**
     * Invites an email address with a catalog role. A pending, unexpired
     * invitation for the same tenant and address is revoked and replaced.
     * The email is sent after the commit; when it cannot be sent the
     * invitation stands and `delivered` is false, so the inviter can pass the
     * token on another way or revoke it.
     */
    async create(input: { tenantId: string; email: string; role: string; expiresInDays?: number | null }, caller: Caller) {
      const { tenantId, email, role: roleName, expiresInDays } = parseInput(createInput, input);
      assertThat(roleName !== 'owner', 'bad_request', 'role: ownership moves only through transferTenantOwnership.', { field: 'role' });
      const standing = await access.tenantAccess(caller, tenantId, 'invitations:manage');
      const { tenant, viewer } = standing;
      const role = await db.role.findUnique({ where: { realmId_name: { realmId: tenant.realmId, name: roleName } } });
      assertThat(role, 'not_found', 'role: no such role in the catalog.', { field: 'role' });
      assertGrantable(grantAuthority(standing), role.permissions, 'role');

      const token = randomUrlToken(32);
      const now = clock();
      const id = randomUUID();
      const metadata = eventMetadata(caller);
      const { invitation, tenantName } = await db.$transaction(async (tx) => {
        const { displayName: tenantName } = await lockLiveTenant(tx, tenantId);
        const member = await tx.membership.findFirst({
          where: { tenantId, user: { email: { equals: email, mode: 'insensitive' } } },
          select: { id: true },
        });
        if (member) throw alreadyMember();
        const replaced = await tx.invitation.findMany({
          where: { tenantId, email, status: 'pending', expiresAt: { gt: new Date(now) } },
          select: { id: true },
        });
        if (replaced.length > 0) {
          await tx.invitation.updateMany({ where: { id: { in: replaced.map((r) => r.id) } }, data: { status: 'revoked', revokedAt: new Date(now) } });
        }
        for (const old of replaced) {
          await events.appendEvent(tx, {
            aggregateType: 'invitation',
            aggregateId: old.id,
            type: 'invitation.revoked',
            realmId: tenant.realmId,
            tenantId,
            payload: { email, reason: 'replaced', replacedBy: id },
            metadata,
          });
        }
        const invitation = await tx.invitation.create({
          data: { id, tenantId, email, roleId: role.id, tokenHash: sha256Hex(token), invitedById: viewer.userId, expiresAt: new Date(now + expiresInDays * DAY_MS) },
        });
        await events.appendEvent(tx, {
          aggregateType: 'invitation',
          aggregateId: id,
          type: 'invitation.created',
          realmId: tenant.realmId,
          tenantId,
          payload: { email, role: role.name, expiresAt: invitation.expiresAt.toISOString() },
          metadata,
        });
        return { invitation, tenantName };
      });
      const delivered = await deliver(invitation, token, { tenantName, roleName: role.displayName });
      return { invitation, token, delivered };
    },

    /** A tenant's invitations, newest first, for callers with invitations:manage there. */
    async list(input: { tenantId: string; status?: InvitationState | null }, caller: Caller) {
      const { tenantId, status } = parseInput(listInput, input);
      await access.tenantAccess(caller, tenantId, 'invitations:manage');
      const now = new Date(clock());
      const byStatus: Record<InvitationState, Prisma.InvitationWhereInput> = {
        pending: { status: 'pending', expiresAt: { gt: now } },
        expired: { status: 'pending', expiresAt: { lte: now } },
        accepted: { status: 'accepted' },
        revoked: { status: 'revoked' },
      };
      const where: Prisma.InvitationWhereInput = { tenantId, ...(status ? byStatus[status] : {}) };
      return {
        page: <Q extends Omit<Prisma.InvitationFindManyArgs, 'where' | 'orderBy'>>(query: Q) =>
          db.invitation.findMany({ ...query, where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] }),
        count: () => db.invitation.count({ where }),
      };
    },

    /** Revokes a pending invitation (an expired one too: it then reads as revoked). */
    async revoke(input: { invitationId: string }, caller: Caller) {
      const { invitationId } = parseInput(revokeInput, input);
      requireViewer(caller);
      const found = await db.invitation.findUnique({ where: { id: invitationId }, select: { tenantId: true } });
      assertThat(found, 'not_found', 'No such invitation.');
      const { tenant } = await access.tenantAccess(caller, found.tenantId, 'invitations:manage');
      return db.$transaction(async (tx) => {
        const now = new Date(clock());
        const { count } = await tx.invitation.updateMany({ where: { id: invitationId, status: 'pending' }, data: { status: 'revoked', revokedAt: now } });
        const invitation = await tx.invitation.findUniqueOrThrow({ where: { id: invitationId } });
        if (count === 0) throw notPending(invitation);
        await events.appendEvent(tx, {
          aggregateType: 'invitation',
          aggregateId: invitationId,
          type: 'invitation.revoked',
          realmId: tenant.realmId,
          tenantId: tenant.id,
          payload: { email: invitation.email, reason: 'revoked' },
          metadata: eventMetadata(caller),
        });
        return invitation;
      });
    },

    /**
     * Joins the caller to the invitation's tenant with its role. The caller must
     * be a signed-in user (not an API key) whose verified email is the invited one.
     * The status change is conditional on the invitation still being pending, so
     * of many concurrent accepts exactly one creates the membership.
     */
    async accept(input: { token: string }, caller: Caller) {
      const { token } = parseInput(acceptInput, input);
      const viewer = requireViewer(caller);
      if (viewer.apiKey) throw new AppError('forbidden', 'Invitations are accepted by a signed-in user, not an API key.', { reason: 'api_key' });
      const presented = sha256Hex(token);
      const found = await db.invitation.findUnique({
        where: { tokenHash: presented },
        include: { tenant: { select: { realmId: true, deletedAt: true } }, role: { select: { name: true, permissions: true } } },
      });
      assertThat(found && found.tenant.deletedAt === null && constantTimeEqual(found.tokenHash, presented), 'not_found', 'No such invitation.');

      // Who may use the token is settled before anything about its state is told.
      const user = await providerUser(caller);
      if ((user.email ?? '').toLowerCase() !== found.email) throw new AppError('forbidden', 'The invitation is for another email address.', { reason: 'email_mismatch' });
      if (!user.email_confirmed_at) throw new AppError('forbidden', 'Confirm your email address first.', { reason: 'email_unverified' });
      if (stateOf(found) !== 'pending') throw notPending(found);
      // An invitation is a grant deferred until acceptance: it still needs an inviter who could make it now,
      // so a role widened since, or an inviter demoted or removed since, does not carry it through.
      const inviter = found.invitedById ? await access.grantAuthorityOf(found.invitedById, found.tenantId, 'invitations:manage') : null;
      if (!inviter) throw new AppError('forbidden', 'The invitation’s sender may no longer invite to this tenant.', { reason: 'role_exceeds_permissions' });
      assertGrantable(inviter, found.role.permissions, 'role');

      const now = new Date(clock());
      const metadata = eventMetadata(caller);
      try {
        return await db.$transaction(async (tx) => {
          await lockLiveTenant(tx, found.tenantId);
          const { count } = await tx.invitation.updateMany({
            where: { id: found.id, status: 'pending', expiresAt: { gt: now } },
            data: { status: 'accepted', acceptedAt: now, acceptedById: viewer.userId },
          });
          const invitation = await tx.invitation.findUniqueOrThrow({ where: { id: found.id } });
          if (count === 0) throw notPending(invitation);
          const membership = await tx.membership.create({ data: { userId: viewer.userId, tenantId: found.tenantId, roleId: found.roleId } });
          const scope = { realmId: found.tenant.realmId, tenantId: found.tenantId, metadata };
          await events.appendEvent(tx, {
            ...scope,
            aggregateType: 'invitation',
            aggregateId: found.id,
            type: 'invitation.accepted',
            payload: { email: found.email, role: found.role.name, userId: viewer.userId },
          });
          await events.appendEvent(tx, {
            ...scope,
            aggregateType: 'tenant',
            aggregateId: found.tenantId,
            type: 'member.added',
            payload: { userId: viewer.userId, role: found.role.name, via: 'invitation' },
          });
          return { invitation, membership };
        });
      } catch (error) {
        // The unique (user, tenant) membership: the caller already belongs to the tenant.
        if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') throw alreadyMember();
        throw error;
      }
    },
  };
}

export type InvitationService = ReturnType<typeof createInvitationService>;
