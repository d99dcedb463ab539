import type { RevocationList, UserStatus } from '../auth/revocation.js';
import type { Viewer } from '../auth/viewer.js';
import { AppError, assertThat } from '../errors.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { IdentityProvider, LogoutScope } from '../identity/provider.js';
import type { SecurityAction } from '../identity/security-events.js';
import type { AccessTokenResponse, Factor, User as ProviderUser } from '../identity/types.js';
import type { Caller } from './caller.js';
import { viaProvider } from './provider-errors.js';
import type { AttemptSubject, AuthAction, AuthRateLimits } from './auth-rate-limits.js';
import type { Provisioning } from './provisioning.js';
import type { TenantClaims } from './tenant-claims.js';
import type { UserMirror } from './user-mirror.js';
import { canonicalEmail, canonicalPhone } from '../identifiers.js';
import { canonicalUuid, isUuid } from '../uuid.js';

export interface AuthDeps {
  db: PrismaClient;
  provider: IdentityProvider;
  mirror: UserMirror;
  revocations: RevocationList;
  limits: AuthRateLimits;
  tenantClaims: TenantClaims;
  provisioning: Provisioning;
  /** Claim names switchTenant's customClaims may set. */
  switchTenantClaims: readonly string[];
  /** How long access tokens live: a revoked session is denied for that long. */
  accessTokenTtlSeconds: number;
  clock: () => number;
}

export type { Caller } from './caller.js';

export interface AuthResult {
  session: AccessTokenResponse | null;
  user: ProviderUser | null;
  /** Verified factors when the user must pass MFA before an aal2 session. */
  challengeFactors: Factor[];
  tenants: Array<{ id: string }>;
}

type Contact = { email?: string | null; phone?: string | null };

/** Exactly one of email or phone, in the spelling the provider's lookup and the rate limits both use. */
function contact(input: Contact): { email: string } | { phone: string } {
  const email = input.email ? canonicalEmail(input.email) : null;
  const phone = input.phone ? canonicalPhone(input.phone) : null;
  assertThat(Boolean(email) !== Boolean(phone), 'bad_request', 'Give exactly one of email or phone.');
  return email ? { email } : { phone: phone as string };
}

/** A factor id in its one canonical spelling: not_found for anything that is not a UUID (it would otherwise reach SQL). */
function factorIdOf(input: { factorId: string }): string {
  const factorId = canonicalUuid(input.factorId);
  assertThat(factorId, 'not_found', 'No factor with this id.');
  return factorId;
}

export function createAuthService({ db, provider, mirror, revocations, limits, tenantClaims, provisioning, switchTenantClaims, accessTokenTtlSeconds, clock }: AuthDeps) {
  /** The claims of a token the provider just issued (already trusted: it came from the provider). */
  const claimsOf = (session: AccessTokenResponse) =>
    JSON.parse(Buffer.from(session.access_token.split('.')[1] ?? '', 'base64url').toString()) as { session_id?: string; aal?: string };
  const sessionIdOf = (session: AccessTokenResponse) => claimsOf(session).session_id ?? '';

  /** Chooses the session's tenant and re-mints its tokens so they carry tenant_id / tenant_role. */
  async function withTenant(session: AccessTokenResponse, tenantId: string | null | undefined, caller: Caller): Promise<AccessTokenResponse> {
    if (!tenantId) return session;
    try {
      await tenantClaims.choose({ userId: session.user.id, sessionId: sessionIdOf(session), tenantId });
    } catch (error) {
      // The provider opened a session for a tenant the user may not act in: close it again.
      await viaProvider(() => provider.logout(session.access_token, 'local')).catch(() => {});
      throw error;
    }
    return viaProvider(() => provider.token('refresh_token', { refresh_token: session.refresh_token }, caller.meta));
  }

  /**
   * After credentials were proven: auto-provisioning (allowlist / open tenants),
   * then the requested tenant. New memberships change the tenant claims, so the
   * tokens are minted again to carry them.
   */
  async function signedIn(session: AccessTokenResponse, tenantId: string | null | undefined, caller: Caller): Promise<AccessTokenResponse> {
    const joined = await provisioning.autoJoin(session.user, caller);
    if (tenantId) return withTenant(session, tenantId, caller);
    if (joined.length === 0) return session;
    return viaProvider(() => provider.token('refresh_token', { refresh_token: session.refresh_token }, caller.meta));
  }

  /** customClaims: an object of allowed names to short scalar values; bad_request naming the first offender. */
  function allowedCustomClaims(value: unknown): Record<string, string | number | boolean> {
    if (value === undefined || value === null) return {};
    assertThat(typeof value === 'object' && !Array.isArray(value), 'bad_request', 'customClaims must be an object.', { field: 'customClaims' });
    for (const [name, claim] of Object.entries(value)) {
      const field = `customClaims.${name}`;
      assertThat(switchTenantClaims.includes(name), 'bad_request', `${name} is not a claim callers may set (AUTH_SWITCH_TENANT_CLAIMS).`, { field, reason: 'claim_not_allowed' });
      const scalar = typeof claim === 'number' ? Number.isFinite(claim) : typeof claim === 'boolean' || (typeof claim === 'string' && claim.length <= 256);
      assertThat(scalar, 'bad_request', `${name} must be a string of at most 256 characters, a number or a boolean.`, { field });
    }
    return value as Record<string, string | number | boolean>;
  }

  /** Charges the action as its policy says, as /auth/v1 does (auth-rate-limits.ts); counts are shared by replicas. */
  async function throttle(caller: Caller, action: AuthAction, subject: AttemptSubject = {}) {
    const wait = await limits.attempt(action, caller.meta.ip, subject);
    if (wait !== null) throw new AppError('rate_limited', undefined, { retryAfterSeconds: wait });
  }

  const providerUsers = new WeakMap<Caller, Promise<ProviderUser>>();

  async function result(session: AccessTokenResponse | null, user: ProviderUser | null, caller: Caller): Promise<AuthResult> {
    // The mirrored user's status and live tenants, in one statement.
    const [mirrored] = user
      ? await db.$queryRaw<Array<{ status: UserStatus; tenants: string[] }>>`
          SELECT u.status::text AS status,
                 ARRAY(SELECT m.tenant_id::text FROM memberships m JOIN tenants t ON t.id = m.tenant_id
                       WHERE m.user_id = u.id AND t.deleted_at IS NULL ORDER BY m.created_at) AS tenants
          FROM users u WHERE u.id = ${user.id}::uuid`
      : [];
    if (session && user) {
      await refuseInactive(session, mirrored?.status ?? 'active');
      caller.signedInUserId = user.id;
    }
    const verified = (user?.factors ?? []).filter((f) => f.status === 'verified');
    const aal = session ? claimsOf(session).aal : null;
    return {
      session,
      user,
      challengeFactors: session && aal !== 'aal2' ? verified : [],
      tenants: (mirrored?.tenants ?? []).map((id) => ({ id })),
    };
  }

  /** A suspended or deactivated user gets no session: the one the provider just opened is closed again. */
  async function refuseInactive(session: AccessTokenResponse, status: UserStatus) {
    if (status === 'active') return;
    await viaProvider(() => provider.logout(session.access_token, 'local')).catch(() => {});
    throw new AppError(status === 'suspended' ? 'account_suspended' : 'account_deactivated');
  }

  /**
   * Security events (sign-outs, factor and credential changes) of what a mutation did. The embedded engine records
   * them itself, in the transaction that makes the change, for GraphQL and /auth/v1 alike; in front of GoTrue,
   * idgraph records what its own mutations did after GoTrue answered.
   */
  async function recordSecurity(caller: Caller, userId: string, ...changes: SecurityAction[]) {
    if (provider.kind === 'embedded') return;
    for (const what of changes) {
      await mirror.recordSecurityEvent({ userId, actorId: userId, ip: caller.meta.ip, requestId: caller.meta.requestId, what });
    }
  }

  /** In front of GoTrue only (the engine knows it): the factor as it was before a change, to tell enrollment from a sign-in step. */
  async function factorBeforeChange(accessToken: string, factorId: string): Promise<Factor | null> {
    if (provider.kind === 'embedded') return null;
    const user = await viaProvider(() => provider.getUser(accessToken));
    return (user.factors ?? []).find((f) => f.id === factorId) ?? null;
  }

  function requireSignedIn(caller: Caller): { viewer: Viewer; accessToken: string } {
    if (!caller.viewer || !caller.accessToken) throw new AppError('unauthenticated');
    return { viewer: caller.viewer, accessToken: caller.accessToken };
  }

  return {
    async signUp(input: Contact & { password: string; data?: Record<string, unknown> | null }, caller: Caller): Promise<AuthResult> {
      const who = contact(input);
      await throttle(caller, 'signUp', who);
      const answer = await viaProvider(() => provider.signUp({ ...who, password: input.password, data: input.data ?? {} }, caller.meta));
      const session = 'access_token' in answer ? answer : null;
      const user = session ? session.user : (answer as ProviderUser);
      // A confirmation-pending sign-up may be an obfuscated answer for an existing address: mirror only real sessions.
      if (!session) return result(null, user, caller);
      await mirror.record(user, 'user.signed_up', { requestId: caller.meta.requestId, ip: caller.meta.ip });
      const current = await signedIn(session, null, caller);
      return result(current, current.user, caller);
    },

    async signIn(input: Contact & { password: string; tenantId?: string | null }, caller: Caller): Promise<AuthResult> {
      const who = contact(input);
      await throttle(caller, 'signIn', who);
      const proven = await viaProvider(() => provider.token('password', { ...who, password: input.password }, caller.meta));
      await mirror.record(proven.user, 'user.signed_in', { requestId: caller.meta.requestId, ip: caller.meta.ip });
      const session = await signedIn(proven, input.tenantId, caller);
      return result(session, session.user, caller);
    },

    async refreshSession(input: { refreshToken: string; tenantId?: string | null }, caller: Caller): Promise<AuthResult> {
      await throttle(caller, 'refresh');
      const refreshed = await viaProvider(() => provider.token('refresh_token', { refresh_token: input.refreshToken }, caller.meta));
      const session = await withTenant(refreshed, input.tenantId, caller);
      return result(session, session.user, caller);
    },

    /**
     * A token for another tenant the viewer belongs to (tenant_invalid otherwise),
     * carrying the custom claims asked for when AUTH_SWITCH_TENANT_CLAIMS allows them.
     */
    async switchTenant(input: { tenantId: string; refreshToken: string; customClaims?: unknown }, caller: Caller): Promise<AuthResult> {
      const { viewer } = requireSignedIn(caller);
      const claims = allowedCustomClaims(input.customClaims);
      assertThat(viewer.sessionId, 'tenant_invalid', 'This token has no session to switch.');
      await throttle(caller, 'refresh');
      await tenantClaims.choose({ userId: viewer.userId, sessionId: viewer.sessionId, tenantId: input.tenantId, claims });
      const session = await viaProvider(() => provider.token('refresh_token', { refresh_token: input.refreshToken }, caller.meta));
      assertThat(sessionIdOf(session) === viewer.sessionId, 'unauthenticated', 'The refresh token belongs to another session.');
      // The token that asked now names the wrong tenant.
      await revocations.revoke({ jti: viewer.jti }, viewer.expiresAt);
      return result(session, session.user, caller);
    },

    async signInWithIdToken(input: { provider: string; token: string; nonce?: string | null; tenantId?: string | null }, caller: Caller): Promise<AuthResult> {
      await throttle(caller, 'idToken');
      const proven = await viaProvider(() =>
        provider.token('id_token', { provider: input.provider, id_token: input.token, ...(input.nonce ? { nonce: input.nonce } : {}) }, caller.meta),
      );
      await mirror.record(proven.user, 'user.signed_in', { requestId: caller.meta.requestId, ip: caller.meta.ip });
      const session = await signedIn(proven, input.tenantId, caller);
      return result(session, session.user, caller);
    },

    /** A one-time code (and link) to the address; unknown addresses are signed up when createUser allows. */
    async sendOtp(input: Contact & { createUser?: boolean | null }, caller: Caller): Promise<void> {
      const who = contact(input);
      await throttle(caller, 'sendOtp', who);
      await viaProvider(() => provider.sendOtp({ ...who, create_user: input.createUser ?? true }, caller.meta));
    },

    async verifyOtp(input: Contact & { token: string; type: string }, caller: Caller): Promise<AuthResult> {
      const who = contact(input);
      await throttle(caller, 'verifyOtp', who);
      const proven = await viaProvider(() => provider.verify({ ...who, token: input.token, type: input.type }, caller.meta));
      await mirror.record(proven.user, 'user.signed_in', { requestId: caller.meta.requestId, ip: caller.meta.ip });
      // A confirmed change is complete once nothing is left pending (GoTrue's secure email change wants both addresses).
      if (input.type === 'email_change' && !proven.user.new_email) await recordSecurity(caller, proven.user.id, { action: 'email_changed' });
      if (input.type === 'phone_change' && !proven.user.new_phone) await recordSecurity(caller, proven.user.id, { action: 'phone_changed' });
      const session = await signedIn(proven, null, caller);
      return result(session, session.user, caller);
    },

    /** A sign-in link for an existing account; the answer does not say whether the account exists. */
    async sendMagicLink(input: { email: string }, caller: Caller): Promise<void> {
      const who = contact(input);
      await throttle(caller, 'sendOtp', who);
      try {
        await viaProvider(() => provider.sendOtp({ ...who, create_user: false }, caller.meta));
      } catch (error) {
        if (!(error instanceof AppError && error.extensions.upstreamCode === 'otp_disabled')) throw error;
      }
    },

    /** Answers the same whether or not the address has an account. */
    async requestPasswordRecovery(input: { email: string }, caller: Caller): Promise<void> {
      const who = contact(input);
      await throttle(caller, 'recover', who);
      await viaProvider(() => provider.recover(who, caller.meta));
    },

    async resendConfirmation(input: Contact & { type: string }, caller: Caller): Promise<void> {
      const who = contact(input);
      await throttle(caller, 'resend', who);
      await viaProvider(() => provider.resend({ ...who, type: input.type }, caller.meta));
    },

    async reauthenticate(caller: Caller): Promise<void> {
      const { accessToken, viewer } = requireSignedIn(caller);
      await throttle(caller, 'reauthenticate', { userId: viewer.userId });
      await viaProvider(() => provider.reauthenticate(accessToken, caller.meta));
    },

    async updateViewer(
      input: { email?: string | null; phone?: string | null; password?: string | null; nonce?: string | null; data?: Record<string, unknown> | null },
      caller: Caller,
    ): Promise<ProviderUser> {
      const { accessToken, viewer } = requireSignedIn(caller);
      // A nonce is a guess at the reauthentication code.
      await throttle(caller, 'updateUser', input.nonce ? { userId: viewer.userId } : {});
      const body = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined && v !== null));
      const before =
        provider.kind === 'gotrue' && (input.email || input.phone)
          ? await db.user.findUnique({ where: { id: viewer.userId }, select: { email: true, phone: true } })
          : null;
      const user = await viaProvider(() => provider.updateUser(accessToken, body, caller.meta));
      await mirror.record(user, 'user.updated', { requestId: caller.meta.requestId, ip: caller.meta.ip });
      const changed = (now: string | undefined, was: string | null | undefined) => Boolean(now) && now !== (was ?? '');
      await recordSecurity(
        caller,
        user.id,
        ...(input.password ? [{ action: 'password_changed' } as const] : []),
        ...(!input.email ? [] : user.new_email ? [{ action: 'email_change_requested' } as const] : changed(user.email, before?.email) ? [{ action: 'email_changed' } as const] : []),
        ...(!input.phone ? [] : user.new_phone ? [{ action: 'phone_change_requested' } as const] : changed(user.phone, before?.phone) ? [{ action: 'phone_changed' } as const] : []),
      );
      return user;
    },

    /** What the provider offers: sign-up, confirmation, external issuers, MFA. Public. */
    settings: () => viaProvider(() => provider.settings()),

    /** The viewer's provider record (factors and identities live there), fetched once per request. */
    providerUser(caller: Caller): Promise<ProviderUser> {
      let pending = providerUsers.get(caller);
      if (!pending) {
        const { accessToken } = requireSignedIn(caller);
        pending = viaProvider(() => provider.getUser(accessToken));
        providerUsers.set(caller, pending);
      }
      return pending;
    },

    async enrollFactor(input: { factorType: string; friendlyName?: string | null; phone?: string | null }, caller: Caller) {
      const { accessToken } = requireSignedIn(caller);
      return viaProvider(() =>
        provider.enrollFactor(accessToken, { factor_type: input.factorType, friendly_name: input.friendlyName ?? undefined, phone: input.phone ?? undefined }),
      ) as Promise<{ id: string; type: string; friendly_name?: string; totp?: { qr_code: string; secret: string; uri: string } }>;
    },

    async challengeFactor(input: { factorId: string }, caller: Caller) {
      const { accessToken, viewer } = requireSignedIn(caller);
      const factorId = factorIdOf(input);
      await throttle(caller, 'challengeFactor', { factorId, userId: viewer.userId });
      return viaProvider(() => provider.challengeFactor(accessToken, factorId, {}, caller.meta));
    },

    async verifyFactor(input: { factorId: string; challengeId: string; code: string }, caller: Caller): Promise<AuthResult> {
      const { accessToken, viewer } = requireSignedIn(caller);
      const factorId = factorIdOf(input);
      await throttle(caller, 'verifyFactor', { factorId, userId: viewer.userId });
      const before = await factorBeforeChange(accessToken, factorId);
      const session = await viaProvider(() =>
        provider.verifyFactor(accessToken, factorId, { challenge_id: input.challengeId, code: input.code }, caller.meta),
      );
      if (before && before.status !== 'verified') {
        await recordSecurity(caller, viewer.userId, { action: 'factor_enrolled', factorId, factorType: before.factor_type });
      }
      // The aal1 token this request carried is replaced by the aal2 one.
      await revocations.revoke({ jti: viewer.jti }, viewer.expiresAt);
      return result(session, session.user, caller);
    },

    async unenrollFactor(input: { factorId: string }, caller: Caller): Promise<void> {
      const { accessToken, viewer } = requireSignedIn(caller);
      const factorId = factorIdOf(input);
      const before = await factorBeforeChange(accessToken, factorId);
      await viaProvider(() => provider.unenrollFactor(accessToken, factorId, caller.meta));
      if (before?.status === 'verified') {
        await recordSecurity(caller, viewer.userId, { action: 'factor_unenrolled', factorId, factorType: before.factor_type });
      }
    },

    async sessions(caller: Caller) {
      const { accessToken } = requireSignedIn(caller);
      return viaProvider(() => provider.listSessions(accessToken));
    },

    /** Ends one of the viewer's sessions; its access tokens are denied until they would expire. */
    async revokeSession(input: { sessionId: string }, caller: Caller): Promise<void> {
      const { accessToken, viewer } = requireSignedIn(caller);
      assertThat(isUuid(input.sessionId), 'not_found');
      await viaProvider(() => provider.revokeSession(accessToken, input.sessionId, caller.meta));
      await recordSecurity(caller, viewer.userId, { action: 'session_revoked', sessionId: input.sessionId });
      // Its tokens were all issued by now, so none outlives now + their lifetime.
      await revocations.revoke({ sessionId: input.sessionId }, new Date(clock() + accessTokenTtlSeconds * 1000));
    },

    /** Adds an external issuer's identity (an id_token) to the viewer. */
    async linkIdentity(input: { provider: string; token: string; nonce?: string | null }, caller: Caller): Promise<ProviderUser> {
      const { accessToken } = requireSignedIn(caller);
      await throttle(caller, 'idToken');
      const session = await viaProvider(() =>
        provider.token(
          'id_token',
          { provider: input.provider, id_token: input.token, link_identity: true, ...(input.nonce ? { nonce: input.nonce } : {}) },
          caller.meta,
          accessToken,
        ),
      );
      return session.user;
    },

    async unlinkIdentity(input: { identityId: string }, caller: Caller): Promise<void> {
      const { accessToken } = requireSignedIn(caller);
      await viaProvider(() => provider.unlinkIdentity(accessToken, input.identityId));
    },

    /** Ends sessions at the provider and denies what they signed out (RevocationList.signOut): idgraph cannot always see the provider's sessions. */
    async signOut(scope: LogoutScope, caller: Caller): Promise<void> {
      const { viewer, accessToken } = requireSignedIn(caller);
      await viaProvider(() => provider.logout(accessToken, scope, caller.meta));
      await revocations.signOut(scope, { ...viewer, lifetimeSeconds: accessTokenTtlSeconds });
      await recordSecurity(caller, viewer.userId, { action: 'signed_out', scope });
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
