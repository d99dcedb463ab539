import type { AuthConfig } from '../../config.js';
import type { Prisma, PrismaClient } from '../../generated/prisma/client.js';
import { ProviderError } from '../errors.js';
import type { SecurityAction, SecurityEventRecorder } from '../security-events.js';
import type { Factor, User } from '../types.js';
import type { Accounts } from './accounts.js';
import type { OtpManager } from './otp.js';
import { assertPasswordAcceptable, hashPassword } from './passwords.js';
import { redirectTarget } from './redirects.js';
import { mergeMetadata, normalizeEmail, normalizePhone, toFactor, toUser, userInclude } from './users.js';
import { isUuid } from '../../uuid.js';

const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** GoTrue's ban_duration: a Go duration ("24h", "1h30m") or "none" to lift a ban. */
export function parseBanDuration(value: unknown, now: number): Date | null {
  if (value === 'none') return null;
  const text = String(value);
  const parts = [...text.matchAll(/(\d+)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new ProviderError(400, 'validation_failed', 'invalid format for ban duration: time: invalid duration "' + text + '"');
  }
  return new Date(now + parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0));
}

export interface AdminDeps {
  db: PrismaClient;
  auth: AuthConfig;
  accounts: Accounts;
  otp: OtpManager;
  clock: () => number;
  recordSecurityEvent: SecurityEventRecorder;
}

export function createAdmin({ db, auth, accounts, otp, clock, recordSecurityEvent }: AdminDeps) {
  /** What the service role did to a user's account: no actor (the service role is no user), no address. */
  const byAdmin = (tx: Prisma.TransactionClient, userId: string, what: SecurityAction) => recordSecurityEvent({ userId, actorId: null, what }, tx);

  async function load(id: string) {
    if (!isUuid(id)) throw new ProviderError(404, 'user_not_found', 'User not found');
    const user = await db.authUser.findUnique({ where: { id }, include: userInclude });
    if (!user) throw new ProviderError(404, 'user_not_found', 'User not found');
    return user;
  }

  return {
    async listUsers(page: number, perPage: number): Promise<{ users: User[]; total: number; aud: string }> {
      const [rows, total] = await Promise.all([
        db.authUser.findMany({ include: userInclude, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], skip: (page - 1) * perPage, take: perPage }),
        db.authUser.count(),
      ]);
      return { users: rows.map(toUser), total, aud: auth.jwt.aud };
    },

    getUser: async (id: string) => toUser(await load(id)),

    async createUser(body: Record<string, unknown>): Promise<User> {
      const email = body.email ? normalizeEmail(body.email) : null;
      const phone = body.phone ? normalizePhone(body.phone) : null;
      if (!email && !phone) throw new ProviderError(400, 'validation_failed', 'Cannot create a user without either an email or phone');
      if (body.password !== undefined && body.password !== null) assertPasswordAcceptable(body.password, auth.passwordMinLength);
      if (body.password_hash !== undefined && !/^\$argon2(id|i)?\$|^\$2[aby]\$/.test(String(body.password_hash))) {
        throw new ProviderError(400, 'validation_failed', 'Invalid password hash format');
      }
      const id = typeof body.id === 'string' ? body.id : undefined;
      if (id && !isUuid(id)) throw new ProviderError(400, 'validation_failed', 'id must be a UUID');
      const user = await db.$transaction((tx) =>
        accounts.createUser(tx, {
          id,
          email,
          phone,
          password: typeof body.password === 'string' ? body.password : null,
          passwordHash: typeof body.password_hash === 'string' ? body.password_hash : null,
          userMetadata: (body.user_metadata ?? {}) as Record<string, unknown>,
          appMetadata: (body.app_metadata ?? {}) as Record<string, unknown>,
          emailConfirmed: body.email_confirm === true,
          phoneConfirmed: body.phone_confirm === true,
          role: typeof body.role === 'string' ? body.role : undefined,
        }),
      );
      if (body.ban_duration) {
        await db.authUser.update({ where: { id: user.id }, data: { bannedUntil: parseBanDuration(body.ban_duration, clock()) } });
      }
      return toUser(await load(user.id));
    },

    async updateUser(id: string, body: Record<string, unknown>): Promise<User> {
      const user = await load(id);
      const data: Prisma.AuthUserUpdateInput = {};
      if (body.email) {
        data.email = normalizeEmail(body.email);
        if (data.email !== user.email && (await db.authUser.findUnique({ where: { email: data.email } }))) {
          throw new ProviderError(422, 'email_exists', 'A user with this email address has already been registered');
        }
      }
      if (body.phone) {
        data.phone = normalizePhone(body.phone);
        if (data.phone !== user.phone && (await db.authUser.findUnique({ where: { phone: data.phone } }))) {
          throw new ProviderError(422, 'phone_exists', 'A user with this phone number has already been registered');
        }
      }
      if (body.password !== undefined) {
        assertPasswordAcceptable(body.password, auth.passwordMinLength);
        data.passwordHash = await hashPassword(body.password);
      }
      if (body.email_confirm === true) data.emailConfirmedAt = user.emailConfirmedAt ?? new Date(clock());
      if (body.phone_confirm === true) data.phoneConfirmedAt = user.phoneConfirmedAt ?? new Date(clock());
      if (body.user_metadata !== undefined) data.userMetadata = mergeMetadata(user.userMetadata, body.user_metadata) as Prisma.InputJsonValue;
      if (body.app_metadata !== undefined) data.appMetadata = mergeMetadata(user.appMetadata, body.app_metadata) as Prisma.InputJsonValue;
      if (typeof body.role === 'string') data.role = body.role;
      if (body.ban_duration !== undefined) data.bannedUntil = parseBanDuration(body.ban_duration, clock());
      await db.$transaction(async (tx) => {
        await tx.authUser.update({ where: { id }, data });
        if (typeof data.email === 'string') await tx.authIdentity.updateMany({ where: { userId: id, provider: 'email' }, data: { email: data.email } });
        if (data.passwordHash) await byAdmin(tx, id, { action: 'password_changed' });
        if (typeof data.email === 'string' && data.email !== user.email) await byAdmin(tx, id, { action: 'email_changed' });
        if (typeof data.phone === 'string' && data.phone !== user.phone) await byAdmin(tx, id, { action: 'phone_changed' });
        // A ban ends the user's sessions at once.
        if (data.bannedUntil) {
          const ended = await tx.authSession.deleteMany({ where: { userId: id } });
          if (ended.count > 0) await byAdmin(tx, id, { action: 'sessions_revoked', scope: 'global', reason: 'banned' });
        }
      });
      return toUser(await load(id));
    },

    async deleteUser(id: string, softDelete: boolean): Promise<Record<string, never>> {
      await load(id);
      if (softDelete) {
        await db.$transaction([
          db.authSession.deleteMany({ where: { userId: id } }),
          db.authUser.update({ where: { id }, data: { deletedAt: new Date(clock()), email: null, phone: null, passwordHash: null } }),
        ]);
      } else {
        await db.authUser.delete({ where: { id } });
      }
      return {};
    },

    async listFactors(userId: string): Promise<Factor[]> {
      return (await load(userId)).factors.map(toFactor);
    },

    async deleteFactor(userId: string, factorId: string): Promise<Factor> {
      const user = await load(userId);
      const factor = user.factors.find((f) => f.id === factorId);
      if (!factor) throw new ProviderError(404, 'mfa_factor_not_found', 'Factor not found');
      await db.$transaction(async (tx) => {
        await tx.authMfaFactor.delete({ where: { id: factorId } });
        await tx.authSession.updateMany({ where: { factorId }, data: { aal: 'aal1', factorId: null } });
        if (factor.status === 'verified') await byAdmin(tx, userId, { action: 'factor_unenrolled', factorId, factorType: factor.factorType });
      });
      return toFactor(factor);
    },

    /** Returns the link and code without sending anything (the caller delivers them). */
    async generateLink(body: Record<string, unknown>, redirectTo?: string) {
      let type = String(body.type ?? '');
      const email = normalizeEmail(body.email);
      let user = await accounts.findByContact({ email });
      if (type === 'magiclink' && !user) type = 'signup';
      let issued: { otp: string; tokenHash: string };
      let verificationType = type;
      switch (type) {
        case 'signup':
        case 'invite': {
          if (user?.emailConfirmedAt && type === 'signup') {
            throw new ProviderError(422, 'email_exists', 'A user with this email address has already been registered');
          }
          if (type === 'signup' && body.password !== undefined) assertPasswordAcceptable(body.password, auth.passwordMinLength);
          user ??= await db.$transaction((tx) =>
            accounts.createUser(tx, {
              email,
              password: typeof body.password === 'string' ? body.password : null,
              userMetadata: (body.data ?? {}) as Record<string, unknown>,
              invited: type === 'invite',
            }),
          );
          issued = await otp.issue(user, 'confirmation', email, type, { deliver: false });
          break;
        }
        case 'magiclink':
        case 'recovery':
          if (!user) throw new ProviderError(404, 'user_not_found', 'User with this email not found');
          issued = await otp.issue(user, 'recovery', email, type, { deliver: false });
          break;
        case 'email_change_new': {
          if (!user) throw new ProviderError(404, 'user_not_found', 'User with this email not found');
          const newEmail = normalizeEmail(body.new_email);
          if (await db.authUser.findUnique({ where: { email: newEmail } })) {
            throw new ProviderError(422, 'email_exists', 'A user with this email address has already been registered');
          }
          await db.authUser.update({ where: { id: user.id }, data: { newEmail } });
          issued = await otp.issue(user, 'email_change_new', newEmail, 'email_change', { deliver: false });
          verificationType = 'email_change';
          break;
        }
        case 'email_change_current':
          throw new ProviderError(422, 'validation_failed', 'Secure (two-address) email change is not enabled; use email_change_new');
        default:
          throw new ProviderError(400, 'validation_failed', 'Invalid link type: ' + type);
      }
      const fresh = toUser(await load(user.id));
      const redirect = redirectTarget(auth, redirectTo)?.href ?? auth.siteUrl;
      return {
        ...fresh,
        action_link: `${auth.publicUrl}/auth/v1/verify?token=${issued.tokenHash}&type=${verificationType}&redirect_to=${encodeURIComponent(redirect)}`,
        email_otp: issued.otp,
        hashed_token: issued.tokenHash,
        verification_type: verificationType,
        redirect_to: redirect,
      };
    },
  };
}

export type Admin = ReturnType<typeof createAdmin>;
