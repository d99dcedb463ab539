import { randomUUID } from 'node:crypto';
import type { AuthConfig } from '../../config.js';
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import { ProviderError } from '../errors.js';
import type { SecurityAction, SecurityEventRecorder } from '../security-events.js';
import type { AccessTokenResponse, OtpType, RequestMeta, User } from '../types.js';
import type { AfterAnswer } from './after-answer.js';
import type { OtpManager, TokenType } from './otp.js';
import { type Pkce, type PkceChallenge, pkceFrom } from './pkce.js';
import { assertPasswordAcceptable, hashPassword, verifyPassword } from './passwords.js';
import type { Authenticated, SessionManager } from './sessions.js';
import { isBanned, mergeMetadata, normalizeEmail, normalizePhone, toUser, type UserRow, userInclude } from './users.js';
import { userRowColumns, userRowFrom } from './user-rows.js';

type Tx = Prisma.TransactionClient;

export interface AccountDeps {
  db: PrismaClient;
  auth: AuthConfig;
  sessions: SessionManager;
  otp: OtpManager;
  pkce: Pkce;
  clock: () => number;
  /** Runs inside the transaction that creates a user (idgraph mirrors the user there). */
  onUserCreated?: UserCreatedHook;
  /** Where codes requested by address are issued and sent, so the answer is the same for every address. */
  afterAnswer: AfterAnswer;
  recordSecurityEvent: SecurityEventRecorder;
}

/** The new user as the rest of idgraph sees it. */
export type UserCreatedHook = (tx: Tx, user: { id: string; email: string | null; phone: string | null; userMetadata: Record<string, unknown> }) => Promise<void>;

/** The amr method a PKCE exchange records, per kind of mailed link. */
export const pkceMethodFor = (kind: string) => (kind === 'signup' ? 'email/signup' : kind);

export interface NewUser {
  email?: string | null;
  phone?: string | null;
  password?: string | null;
  passwordHash?: string | null;
  userMetadata?: Record<string, unknown>;
  appMetadata?: Record<string, unknown>;
  emailConfirmed?: boolean;
  phoneConfirmed?: boolean;
  role?: string;
  id?: string;
  invited?: boolean;
}

/** {email} or {phone}, normalised, exactly one of them. */
export function contactOf(body: Record<string, unknown>): { email: string } | { phone: string } {
  const email = body.email ? String(body.email) : '';
  const phone = body.phone ? String(body.phone) : '';
  if (email && phone) throw new ProviderError(400, 'validation_failed', 'Only an email address or phone number should be provided');
  if (email) return { email: normalizeEmail(email) };
  if (phone) return { phone: normalizePhone(phone) };
  throw new ProviderError(400, 'validation_failed', 'An email address or phone number is required');
}

/** The user with this email or phone (sign-in's hot path: one raw statement, identities and factors included). */
async function findByContact(db: PrismaClient | Tx, contact: { email: string } | { phone: string }): Promise<UserRow | null> {
  const [row] = await db.$queryRaw<Array<Record<string, unknown>>>`
    SELECT ${userRowColumns} FROM auth_users u
    WHERE ${'email' in contact ? Prisma.sql`u.email = ${contact.email}` : Prisma.sql`u.phone = ${contact.phone}`}`;
  return row ? userRowFrom(row) : null;
}

const withVerified = (data: unknown, key: 'email_verified' | 'phone_verified') => mergeMetadata(data, { [key]: true });

const isSendTooSoon = (error: unknown) =>
  error instanceof ProviderError && (error.errorCode === 'over_email_send_rate_limit' || error.errorCode === 'over_sms_send_rate_limit');

export function createAccounts({ db, auth, sessions, otp, pkce, clock, onUserCreated, afterAnswer, recordSecurityEvent }: AccountDeps) {
  const now = () => new Date(clock());

  /**
   * A code requested by address: looked up, issued and sent after the answer, which
   * never says whether the address has an account. A second request within
   * AUTH_MAX_FREQUENCY sends nothing (the first code stays valid), for known and
   * unknown addresses alike, instead of a 429 that only an account could earn.
   */
  function sendLater(work: () => Promise<unknown>, contact: { email: string } | { phone: string }): { message_id?: string } {
    afterAnswer.run(() =>
      work().catch((error: unknown) => {
        if (!isSendTooSoon(error)) throw error;
      }),
    );
    return 'phone' in contact ? { message_id: randomUUID() } : {};
  }

  /** Creates a user with its email or phone identity, in one transaction. */
  async function createUser(tx: Tx, input: NewUser): Promise<UserRow> {
    const id = input.id ?? randomUUID();
    const provider = input.email ? 'email' : 'phone';
    if (input.email && (await tx.authUser.findUnique({ where: { email: input.email } }))) {
      throw new ProviderError(422, 'email_exists', 'A user with this email address has already been registered');
    }
    if (input.phone && (await tx.authUser.findUnique({ where: { phone: input.phone } }))) {
      throw new ProviderError(422, 'phone_exists', 'A user with this phone number has already been registered');
    }
    const confirmedAt = now();
    await tx.authUser.create({
      data: {
        id,
        aud: auth.jwt.aud,
        role: input.role ?? 'authenticated',
        email: input.email ?? null,
        phone: input.phone ?? null,
        passwordHash: input.passwordHash ?? (input.password ? await hashPassword(input.password) : null),
        emailConfirmedAt: input.email && input.emailConfirmed ? confirmedAt : null,
        phoneConfirmedAt: input.phone && input.phoneConfirmed ? confirmedAt : null,
        invitedAt: input.invited ? confirmedAt : null,
        appMetadata: { provider, providers: [provider], ...input.appMetadata } as Prisma.InputJsonValue,
        userMetadata: (input.userMetadata ?? {}) as Prisma.InputJsonValue,
      },
    });
    if (input.email || input.phone) {
      await tx.authIdentity.create({
        data: {
          providerId: id,
          userId: id,
          provider,
          email: input.email ?? null,
          identityData: {
            sub: id,
            ...(input.email ? { email: input.email } : { phone: input.phone }),
            email_verified: Boolean(input.email && input.emailConfirmed),
            phone_verified: Boolean(input.phone && input.phoneConfirmed),
          },
        },
      });
    }
    await onUserCreated?.(tx, { id, email: input.email ?? null, phone: input.phone ?? null, userMetadata: input.userMetadata ?? {} });
    return tx.authUser.findUniqueOrThrow({ where: { id }, include: userInclude });
  }

  /** Marks the email or phone confirmed, merging *_verified into metadata as GoTrue does. */
  async function confirmContact(tx: Tx, user: UserRow, channel: 'email' | 'phone') {
    const key = channel === 'email' ? 'email_verified' : 'phone_verified';
    await tx.authUser.update({
      where: { id: user.id },
      data: {
        ...(channel === 'email' ? { emailConfirmedAt: user.emailConfirmedAt ?? now() } : { phoneConfirmedAt: user.phoneConfirmedAt ?? now() }),
        userMetadata: withVerified(user.userMetadata, key) as Prisma.InputJsonValue,
      },
    });
    for (const identity of user.identities.filter((i) => i.provider === channel)) {
      await tx.authIdentity.update({ where: { id: identity.id }, data: { identityData: withVerified(identity.identityData, key) as Prisma.InputJsonValue } });
    }
  }

  /** Issues a mailed code; with a PKCE challenge its link starts a flow whose code is exchanged later. */
  async function issueLink(
    user: UserRow,
    tokenType: TokenType,
    relatesTo: string,
    kind: string,
    challenge: PkceChallenge | null,
    redirectTo?: string,
  ) {
    if (challenge && relatesTo.includes('@')) {
      await pkce.start(user.id, challenge, pkceMethodFor(kind));
      return otp.issue(user, tokenType, relatesTo, kind, { redirectTo, linkPrefix: 'pkce_' });
    }
    return otp.issue(user, tokenType, relatesTo, kind, { redirectTo });
  }

  function ensureNotBanned(user: UserRow) {
    if (isBanned(user, now())) throw new ProviderError(400, 'user_banned', 'User is banned');
  }

  async function sendConfirmation(
    user: UserRow,
    contact: { email: string } | { phone: string },
    challenge: PkceChallenge | null,
    redirectTo?: string,
  ) {
    const relatesTo = 'email' in contact ? contact.email : contact.phone;
    return issueLink(user, 'confirmation', relatesTo, 'email' in contact ? 'signup' : 'sms', challenge, redirectTo);
  }

  /** What an unknown address gets when signup needs confirmation: a plausible user that does not exist. */
  function obfuscatedUser(contact: { email: string } | { phone: string }, data: Record<string, unknown>): User {
    const at = now().toISOString();
    return {
      id: randomUUID(),
      aud: auth.jwt.aud,
      role: '',
      email: 'email' in contact ? contact.email : '',
      phone: 'phone' in contact ? contact.phone : '',
      confirmation_sent_at: at,
      app_metadata: { provider: 'email' in contact ? 'email' : 'phone', providers: ['email' in contact ? 'email' : 'phone'] },
      user_metadata: data,
      identities: [],
      created_at: at,
      updated_at: at,
      is_anonymous: false,
    };
  }

  const accounts = {
    createUser,
    confirmContact,

    async signUp(body: Record<string, unknown>, meta: RequestMeta, redirectTo?: string): Promise<User | AccessTokenResponse> {
      if (auth.disableSignup) throw new ProviderError(422, 'signup_disabled', 'Signups not allowed for this instance');
      if (!body.email && !body.phone) {
        throw new ProviderError(422, 'anonymous_provider_disabled', 'Anonymous sign-ins are disabled');
      }
      const contact = contactOf(body);
      const challenge = pkceFrom(body);
      assertPasswordAcceptable(body.password, auth.passwordMinLength);
      const data = (body.data && typeof body.data === 'object' ? body.data : {}) as Record<string, unknown>;
      const existing = await findByContact(db, contact);
      if (existing) {
        const confirmed = 'email' in contact ? existing.emailConfirmedAt : existing.phoneConfirmedAt;
        if (auth.autoconfirm || confirmed) {
          if (auth.autoconfirm) throw new ProviderError(422, 'user_already_exists', 'User already registered');
          return obfuscatedUser(contact, data);
        }
        await sendConfirmation(existing, contact, challenge, redirectTo);
        return obfuscatedUser(contact, data);
      }
      const user = await db.$transaction((tx) =>
        createUser(tx, {
          ...contact,
          password: body.password as string,
          userMetadata: data,
          emailConfirmed: auth.autoconfirm,
          phoneConfirmed: auth.autoconfirm,
        }),
      );
      if (auth.autoconfirm) {
        await db.$transaction((tx) => confirmContact(tx, user, 'email' in contact ? 'email' : 'phone'));
        return sessions.start(user.id, 'password', meta);
      }
      await sendConfirmation(user, contact, challenge, redirectTo);
      return toUser(await db.authUser.findUniqueOrThrow({ where: { id: user.id }, include: userInclude }));
    },

    async signInWithPassword(body: Record<string, unknown>, meta: RequestMeta): Promise<AccessTokenResponse> {
      const contact = contactOf(body);
      const password = typeof body.password === 'string' ? body.password : '';
      const user = await findByContact(db, contact);
      // Same work and the same answer for an unknown user and a wrong password.
      const valid = await verifyPassword(password, user?.passwordHash);
      if (!user || !valid) throw new ProviderError(400, 'invalid_credentials', 'Invalid login credentials');
      ensureNotBanned(user);
      if ('email' in contact && !user.emailConfirmedAt) throw new ProviderError(400, 'email_not_confirmed', 'Email not confirmed');
      if ('phone' in contact && !user.phoneConfirmedAt) throw new ProviderError(400, 'phone_not_confirmed', 'Phone not confirmed');
      return sessions.start(user, 'password', meta);
    },

    /** /otp and /magiclink: a code (and link) to sign in, signing the address up first when allowed. */
    async sendOtp(body: Record<string, unknown>, redirectTo?: string): Promise<{ message_id?: string }> {
      const contact = contactOf(body);
      const challenge = pkceFrom(body);
      // Unknown addresses that may not sign up get the same answer and no message (GoTrue says otp_disabled).
      const createUserAllowed = body.create_user !== false && !auth.disableSignup;
      const data = (body.data && typeof body.data === 'object' ? body.data : {}) as Record<string, unknown>;
      return sendLater(async () => {
        let user = await findByContact(db, contact);
        if (!user) {
          if (!createUserAllowed) return;
          user = await db.$transaction((tx) => createUser(tx, { ...contact, userMetadata: data }));
        }
        const relatesTo = 'email' in contact ? contact.email : contact.phone;
        const confirmed = 'email' in contact ? user.emailConfirmedAt : user.phoneConfirmedAt;
        // Email: unconfirmed users get a confirmation, confirmed ones a magic link. Phone: always an SMS code.
        if ('email' in contact && confirmed) await issueLink(user, 'recovery', relatesTo, 'magiclink', challenge, redirectTo);
        else await sendConfirmation(user, contact, challenge, redirectTo);
      }, contact);
    },

    /** /recover: answers {} for unknown addresses too. */
    async recover(body: Record<string, unknown>, redirectTo?: string): Promise<Record<string, never>> {
      const email = normalizeEmail(body.email);
      const challenge = pkceFrom(body);
      sendLater(async () => {
        const user = await findByContact(db, { email });
        if (user) await issueLink(user, 'recovery', email, 'recovery', challenge, redirectTo);
      }, { email });
      return {};
    },

    /** /resend: unknown or already-confirmed addresses get the same answer. */
    async resend(body: Record<string, unknown>, redirectTo?: string): Promise<{ message_id?: string }> {
      const type = String(body.type ?? '');
      if (!['signup', 'email_change', 'sms', 'phone_change'].includes(type)) {
        throw new ProviderError(400, 'validation_failed', 'Missing one of these types: signup, email_change, sms, phone_change');
      }
      const contact = contactOf(body);
      const challenge = pkceFrom(body);
      return sendLater(async () => {
        if (type === 'signup' || type === 'sms') {
          const user = await findByContact(db, contact);
          const confirmed = user && ('email' in contact ? user.emailConfirmedAt : user.phoneConfirmedAt);
          if (user && !confirmed) await sendConfirmation(user, contact, challenge, redirectTo);
          return;
        }
        const user = await db.authUser.findFirst({
          where: 'email' in contact ? { newEmail: contact.email } : { newPhone: contact.phone },
          include: userInclude,
        });
        if (user) {
          await otp.issue(user, type === 'email_change' ? 'email_change_new' : 'phone_change', 'email' in contact ? contact.email : contact.phone, type, { redirectTo });
        }
      }, contact);
    },

    /** /verify: consumes a code or link token and signs the user in (amr otp). */
    async verify(body: Record<string, unknown>, meta: RequestMeta): Promise<AccessTokenResponse> {
      return sessions.start(await accounts.redeem(body, meta), 'otp', meta);
    },

    /** Consumes a code or link token and applies what it confirms; returns the user's id. */
    async redeem(body: Record<string, unknown>, meta?: RequestMeta): Promise<string> {
      const type = String(body.type ?? '') as OtpType;
      const typesFor: Record<OtpType, TokenType[]> = {
        signup: ['confirmation'],
        invite: ['confirmation'],
        magiclink: ['recovery'],
        recovery: ['recovery'],
        email: ['confirmation', 'recovery'],
        email_change: ['email_change_new'],
        sms: ['confirmation'],
        phone_change: ['phone_change'],
      };
      const types = typesFor[type];
      if (!types) throw new ProviderError(400, 'validation_failed', 'Verify requires a verification type');
      const token = typeof body.token === 'string' ? body.token : '';
      const tokenHash = typeof body.token_hash === 'string' ? body.token_hash : '';
      let proof: { token: string; identifier: string } | { tokenHash: string };
      if (tokenHash) proof = { tokenHash };
      else if (token && (body.email || body.phone)) {
        const contact = contactOf(body);
        proof = { token, identifier: 'email' in contact ? contact.email : contact.phone };
      } else throw new ProviderError(400, 'validation_failed', 'Verify requires either a token or a token hash');
      const userId = await db.$transaction(async (tx) => {
        const row = await otp.consume(tx, types, proof);
        const user = await tx.authUser.findUniqueOrThrow({ where: { id: row.userId }, include: userInclude });
        ensureNotBanned(user);
        if (row.tokenType === 'confirmation') await confirmContact(tx, user, row.relatesTo.includes('@') ? 'email' : 'phone');
        if (row.tokenType === 'recovery' && !user.emailConfirmedAt) await confirmContact(tx, user, 'email');
        const changed = (action: 'email_changed' | 'phone_changed') =>
          recordSecurityEvent({ userId: user.id, actorId: user.id, ip: meta?.ip, requestId: meta?.requestId, what: { action } }, tx);
        if (row.tokenType === 'email_change_new') {
          await tx.authUser.update({ where: { id: user.id }, data: { email: row.relatesTo, newEmail: null, emailConfirmedAt: now() } });
          await tx.authIdentity.updateMany({ where: { userId: user.id, provider: 'email' }, data: { email: row.relatesTo } });
          await changed('email_changed');
        }
        if (row.tokenType === 'phone_change') {
          await tx.authUser.update({ where: { id: user.id }, data: { phone: row.relatesTo, newPhone: null, phoneConfirmedAt: now() } });
          await changed('phone_changed');
        }
        return user.id;
      });
      return userId;
    },

    async updateUser(who: Authenticated, body: Record<string, unknown>, meta?: RequestMeta, redirectTo?: string): Promise<User> {
      const { user, session } = who;
      if (body.app_metadata !== undefined && body.app_metadata !== null) throw new ProviderError(403, 'not_admin', 'User not allowed');
      const sensitive = Boolean(body.email || body.phone || body.password);
      if (sensitive && session.aal !== 'aal2' && user.factors.some((f) => f.status === 'verified')) {
        throw new ProviderError(401, 'insufficient_aal', 'AAL2 session is required to update email or password when MFA is enabled.');
      }
      const data: Prisma.AuthUserUpdateInput = {};
      if (body.data !== undefined) data.userMetadata = mergeMetadata(user.userMetadata, body.data) as Prisma.InputJsonValue;
      let passwordChanged = false;
      if (body.password !== undefined) {
        assertPasswordAcceptable(body.password, auth.passwordMinLength);
        if (user.passwordHash && (await verifyPassword(body.password, user.passwordHash))) {
          throw new ProviderError(422, 'same_password', 'New password should be different from the old password.');
        }
        if (auth.updatePasswordRequireReauthentication && clock() - session.createdAt.getTime() > 24 * 3600 * 1000) {
          if (typeof body.nonce !== 'string' || !body.nonce) {
            throw new ProviderError(400, 'reauthentication_needed', 'Password update requires reauthentication');
          }
          await db.$transaction((tx) =>
            otp.consume(tx, ['reauthentication'], { token: body.nonce as string, identifier: user.email ?? user.phone ?? '' }),
          ).catch(() => {
            throw new ProviderError(422, 'reauthentication_not_valid', 'Requested nonce is invalid or has expired');
          });
        }
        data.passwordHash = await hashPassword(body.password);
        passwordChanged = true;
      }
      let emailToConfirm: string | null = null;
      if (body.email) {
        const email = normalizeEmail(body.email);
        if (email !== user.email) {
          const taken = await db.authUser.findUnique({ where: { email } });
          if (taken) throw new ProviderError(422, 'email_exists', 'A user with this email address has already been registered');
          if (auth.autoconfirm) Object.assign(data, { email, emailConfirmedAt: now(), newEmail: null });
          else {
            data.newEmail = email;
            emailToConfirm = email;
          }
        }
      }
      let phoneToConfirm: string | null = null;
      if (body.phone) {
        const phone = normalizePhone(body.phone);
        if (phone !== user.phone) {
          const taken = await db.authUser.findUnique({ where: { phone } });
          if (taken) throw new ProviderError(422, 'phone_exists', 'A user with this phone number has already been registered');
          if (auth.autoconfirm) Object.assign(data, { phone, phoneConfirmedAt: now(), newPhone: null });
          else {
            data.newPhone = phone;
            phoneToConfirm = phone;
          }
        }
      }
      const changes: SecurityAction[] = [
        ...(passwordChanged ? [{ action: 'password_changed' } as const] : []),
        ...(typeof data.email === 'string' ? [{ action: 'email_changed' } as const] : emailToConfirm ? [{ action: 'email_change_requested' } as const] : []),
        ...(typeof data.phone === 'string' ? [{ action: 'phone_changed' } as const] : phoneToConfirm ? [{ action: 'phone_change_requested' } as const] : []),
      ];
      await db.$transaction(async (tx) => {
        await tx.authUser.update({ where: { id: user.id }, data });
        if (typeof data.email === 'string') await tx.authIdentity.updateMany({ where: { userId: user.id, provider: 'email' }, data: { email: data.email } });
        // A new password ends every other session.
        if (passwordChanged) await tx.authSession.deleteMany({ where: { userId: user.id, id: { not: session.id } } });
        for (const what of changes) await recordSecurityEvent({ userId: user.id, actorId: user.id, ip: meta?.ip, requestId: meta?.requestId, what }, tx);
      });
      const updated = await db.authUser.findUniqueOrThrow({ where: { id: user.id }, include: userInclude });
      if (emailToConfirm) await otp.issue(updated, 'email_change_new', emailToConfirm, 'email_change', { redirectTo });
      if (phoneToConfirm) await otp.issue(updated, 'phone_change', phoneToConfirm, 'phone_change', { redirectTo });
      return toUser(await db.authUser.findUniqueOrThrow({ where: { id: user.id }, include: userInclude }));
    },

    /** GET /reauthenticate: a nonce to the email (else phone) that a password change can present. */
    async reauthenticate(who: Authenticated): Promise<{ message_id?: string }> {
      const identifier = who.user.email ?? who.user.phone;
      if (!identifier) throw new ProviderError(422, 'validation_failed', 'Reauthentication requires an email or a phone number');
      const sent = await otp.issue(who.user, 'reauthentication', identifier, 'reauthentication');
      return who.user.email ? {} : { message_id: sent.messageId };
    },

    findByContact: (contact: { email: string } | { phone: string }) => findByContact(db, contact),
  };
  return accounts;
}

export type Accounts = ReturnType<typeof createAccounts>;
