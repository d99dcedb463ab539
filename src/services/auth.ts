import type { RevocationList } from '../auth/revocation.js';
import type { Viewer } from '../auth/viewer.js';
import { AppError, assertThat } from '../errors.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { IdentityProvider, LogoutScope } from '../identity/provider.js';
import type { AccessTokenResponse, Factor, RequestMeta, User as ProviderUser } from '../identity/types.js';
import { viaProvider } from './provider-errors.js';
import type { UserMirror } from './user-mirror.js';

export interface AuthDeps {
  db: PrismaClient;
  provider: IdentityProvider;
  mirror: UserMirror;
  revocations: RevocationList;
}

/** Who is asking, as the transport saw it. */
export interface Caller {
  viewer: Viewer | null;
  accessToken: string | null;
  meta: RequestMeta;
  /** Set when this request proved credentials (sign-up, sign-in, refresh): that user may read their own payload. */
  signedInUserId?: string;
}

export interface AuthResult {
  session: AccessTokenResponse | null;
  user: ProviderUser | null;
  /** Verified factors when the user must pass MFA before an aal2 session. */
  challengeFactors: Factor[];
  tenants: Array<{ id: string }>;
}

type Contact = { email?: string | null; phone?: string | null };

function contact(input: Contact) {
  const email = input.email?.trim() || null;
  const phone = input.phone?.trim() || null;
  assertThat(Boolean(email) !== Boolean(phone), 'bad_request', 'Give exactly one of email or phone.');
  return email ? { email } : { phone: phone as string };
}

export function createAuthService({ db, provider, mirror, revocations }: AuthDeps) {
  async function result(session: AccessTokenResponse | null, user: ProviderUser | null, caller: Caller): Promise<AuthResult> {
    if (session && user) caller.signedInUserId = user.id;
    const verified = (user?.factors ?? []).filter((f) => f.status === 'verified');
    const aal = session ? (JSON.parse(Buffer.from(session.access_token.split('.')[1] ?? '', 'base64url').toString()) as { aal?: string }).aal : null;
    const tenants = user
      ? await db.membership.findMany({ where: { userId: user.id, tenant: { deletedAt: null } }, select: { tenantId: true }, orderBy: { createdAt: 'asc' } })
      : [];
    return {
      session,
      user,
      challengeFactors: session && aal !== 'aal2' ? verified : [],
      tenants: tenants.map((m) => ({ id: m.tenantId })),
    };
  }

  function requireSignedIn(caller: Caller): { viewer: Viewer; accessToken: string } {
    if (!caller.viewer || !caller.accessToken) throw new AppError('unauthenticated');
    return { viewer: caller.viewer, accessToken: caller.accessToken };
  }

  return {
    async signUp(input: Contact & { password: string; data?: Record<string, unknown> | null }, caller: Caller): Promise<AuthResult> {
      const answer = await viaProvider(() =>
        provider.signUp({ ...contact(input), password: input.password, data: input.data ?? {} }, caller.meta),
      );
      const session = 'access_token' in answer ? answer : null;
      const user = session ? session.user : (answer as ProviderUser);
      // A confirmation-pending sign-up may be an obfuscated answer for an existing address: mirror only real sessions.
      if (session) await mirror.record(user, 'user.signed_up', { requestId: caller.meta.requestId, ip: caller.meta.ip });
      return result(session, user, caller);
    },

    async signIn(input: Contact & { password: string }, caller: Caller): Promise<AuthResult> {
      const session = await viaProvider(() => provider.token('password', { ...contact(input), password: input.password }, caller.meta));
      await mirror.record(session.user, 'user.signed_in', { requestId: caller.meta.requestId, ip: caller.meta.ip });
      return result(session, session.user, caller);
    },

    async refreshSession(input: { refreshToken: string }, caller: Caller): Promise<AuthResult> {
      const session = await viaProvider(() => provider.token('refresh_token', { refresh_token: input.refreshToken }, caller.meta));
      return result(session, session.user, caller);
    },

    /** Ends sessions at the provider and denies the caller's session until its token would expire anyway. */
    async signOut(scope: LogoutScope, caller: Caller): Promise<void> {
      const { viewer, accessToken } = requireSignedIn(caller);
      await viaProvider(() => provider.logout(accessToken, scope));
      if (scope !== 'others') await revocations.revoke({ sessionId: viewer.sessionId, jti: viewer.jti }, viewer.expiresAt);
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
