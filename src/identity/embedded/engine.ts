import type { AuthConfig } from '../../config.js';
import type { Prisma, PrismaClient } from '../../generated/prisma/client.js';
import { ProviderError, providerErrors } from '../errors.js';
import type { Logger } from '../../log.js';
import type { Notifier } from '../notifier.js';
import type { IdentityProvider, LogoutScope } from '../provider.js';
import type { SecurityEventRecorder } from '../security-events.js';
import type { AccessTokenClaims } from '../types.js';
import { createAccounts, pkceMethodFor, type UserCreatedHook } from './accounts.js';
import { createAdmin } from './admin.js';
import { createAfterAnswer } from './after-answer.js';
import { createSecretBox } from './crypto.js';
import { isApiKey } from '../api-keys.js';
import { createIdTokenGrant } from './id-token.js';
import { createKeyStore } from './keys.js';
import { createMfa } from './mfa.js';
import { createOtpManager } from './otp.js';
import { createPkce } from './pkce.js';
import { type ClaimsExtension, createSessionManager } from './sessions.js';
import { toUser, userInclude } from './users.js';

export interface EmbeddedDeps {
  db: PrismaClient;
  auth: AuthConfig;
  notifier: Notifier;
  clock: () => number;
  version: string;
  /** Where the first start shows the generated API keys (the console, never the log). */
  print: (text: string) => void;
  claimsExtension?: ClaimsExtension;
  onUserCreated?: UserCreatedHook;
  /** Records a change to a user's sessions or credentials in the transaction that makes it, whichever route made it. */
  onSecurityEvent?: SecurityEventRecorder;
  /** Where failures of work done after an answer (sending a requested code) are reported. */
  log: Logger;
  /** The verifier and denylist check GraphQL applies to a Bearer token too; failures are taxonomy AppErrors. */
  acceptAccessToken: (token: string) => Promise<AccessTokenClaims>;
}

const ADMIN_ROLES = new Set(['service_role', 'supabase_admin']);
const TEN_YEARS = 10 * 365 * 24 * 3600;

export function createEmbeddedEngine(deps: EmbeddedDeps) {
  const { db, auth, notifier, clock, version, print, claimsExtension, onUserCreated, acceptAccessToken, log } = deps;
  const recordSecurityEvent: SecurityEventRecorder = deps.onSecurityEvent ?? (async () => {});
  const box = createSecretBox(auth.keyEncryptionKey);
  const keys = createKeyStore({ db, box });
  const sessions = createSessionManager({ db, keys, auth, clock, claimsExtension, acceptAccessToken });
  const otp = createOtpManager({ db, auth, notifier, clock });
  const pkce = createPkce({ db, clock });
  const afterAnswer = createAfterAnswer((error) => log.error({ err: error }, 'sending a requested code failed'));
  const accounts = createAccounts({ db, auth, sessions, otp, pkce, clock, onUserCreated, afterAnswer, recordSecurityEvent });
  const mfa = createMfa({ db, auth, sessions, box, notifier, clock, recordSecurityEvent });
  const admin = createAdmin({ db, auth, accounts, otp, clock, recordSecurityEvent });
  const idToken = createIdTokenGrant({ db, auth, accounts, sessions, clock });
  const apiKeys = { anon: auth.anonKey ?? '', serviceRole: auth.serviceRoleKey ?? '' };

  /** The anon and service-role keys: from config, or minted on first start and kept in the database. */
  async function ensureApiKey(name: 'anon' | 'service_role', configured: string | null): Promise<{ value: string; created: boolean }> {
    if (configured) return { value: configured, created: false };
    const existing = await db.authInstanceSetting.findUnique({ where: { name: `${name}_key` } });
    if (existing) return { value: box.open(existing.value), created: false };
    const iat = Math.floor(clock() / 1000);
    const value = await keys.sign({ iss: auth.jwt.issuer, role: name, iat, exp: iat + TEN_YEARS });
    const { count } = await db.authInstanceSetting.createMany({ data: [{ name: `${name}_key`, value: box.seal(value) }], skipDuplicates: true });
    if (count === 1) return { value, created: true };
    const winner = await db.authInstanceSetting.findUniqueOrThrow({ where: { name: `${name}_key` } });
    return { value: box.open(winner.value), created: false };
  }

  const authenticate = (token: string | null) => sessions.authenticate(token);

  const provider: IdentityProvider = {
    kind: 'embedded',
    signUp: (body, meta, redirectTo) => accounts.signUp(body, meta, redirectTo),

    async token(grantType, body, meta, accessToken) {
      switch (grantType) {
        case 'password':
          return accounts.signInWithPassword(body, meta);
        case 'refresh_token':
          return sessions.refresh(body.refresh_token, meta);
        case 'pkce': {
          const { userId, method } = await pkce.exchange(body);
          return sessions.start(userId, method, meta);
        }
        case 'id_token': {
          // link_identity adds the issuer's identity to the signed-in caller.
          const linkTo = body.link_identity === true ? (await authenticate(accessToken ?? null)).user.id : null;
          return idToken.grant(body, meta, linkTo);
        }
        default:
          throw new ProviderError(400, 'invalid_credentials', 'unsupported_grant_type');
      }
    },

    async logout(accessToken, scope: LogoutScope, meta, byAdmin = false) {
      const who = await authenticate(accessToken);
      await db.$transaction(async (tx) => {
        await sessions.logout(who, scope, tx);
        await recordSecurityEvent(
          byAdmin
            ? { userId: who.user.id, actorId: null, what: { action: 'sessions_revoked', scope, reason: 'admin_sign_out' } }
            : { userId: who.user.id, actorId: who.user.id, ip: meta?.ip, requestId: meta?.requestId, what: { action: 'signed_out', scope } },
          tx,
        );
      });
    },

    sendOtp: (body, _meta, redirectTo) => accounts.sendOtp(body, redirectTo),
    recover: (body, _meta, redirectTo) => accounts.recover(body, redirectTo),
    resend: (body, _meta, redirectTo) => accounts.resend(body, redirectTo),
    verify: (body, meta) => accounts.verify(body, meta),
    async verifyLink(token, type, meta) {
      // A `pkce_` link ends in an auth code for the client to exchange, not in a session.
      const isPkce = token.startsWith('pkce_');
      const userId = await accounts.redeem({ type, token_hash: isPkce ? token.slice(5) : token }, meta);
      const code = isPkce ? await pkce.issueCode(userId, pkceMethodFor(type)) : null;
      return code ? { code } : { session: await sessions.start(userId, 'otp', meta) };
    },

    async getUser(accessToken) {
      return toUser((await authenticate(accessToken)).user);
    },
    async updateUser(accessToken, body, meta, redirectTo) {
      return accounts.updateUser(await authenticate(accessToken), body, meta, redirectTo);
    },
    async reauthenticate(accessToken) {
      return accounts.reauthenticate(await authenticate(accessToken));
    },
    async unlinkIdentity(accessToken, identityId) {
      const { user } = await authenticate(accessToken);
      const identity = user.identities.find((i) => i.id === identityId);
      if (!identity) throw new ProviderError(404, 'identity_not_found', 'Identity doesn\'t exist');
      if (user.identities.length <= 1) throw new ProviderError(422, 'single_identity_not_deletable', 'User must have at least 1 identity after unlinking');
      const providers = [...new Set(user.identities.filter((i) => i.id !== identityId).map((i) => i.provider))];
      await db.$transaction([
        db.authIdentity.delete({ where: { id: identityId } }),
        db.authUser.update({
          where: { id: user.id },
          data: { appMetadata: { ...(user.appMetadata as object), provider: providers[0], providers } as Prisma.InputJsonValue },
        }),
      ]);
      return {};
    },

    async listSessions(accessToken) {
      const { user } = await authenticate(accessToken);
      const rows = await db.authSession.findMany({ where: { userId: user.id }, orderBy: { createdAt: 'desc' } });
      return rows.map((r) => ({
        id: r.id,
        aal: r.aal === 'aal2' ? ('aal2' as const) : ('aal1' as const),
        createdAt: r.createdAt,
        refreshedAt: r.refreshedAt,
        ip: r.ip,
        userAgent: r.userAgent,
      }));
    },
    async revokeSession(accessToken, sessionId, meta) {
      const { user } = await authenticate(accessToken);
      await db.$transaction(async (tx) => {
        const { count } = await tx.authSession.deleteMany({ where: { id: sessionId, userId: user.id } });
        if (count === 0) throw new ProviderError(404, 'session_not_found', 'Session not found');
        await recordSecurityEvent({ userId: user.id, actorId: user.id, ip: meta?.ip, requestId: meta?.requestId, what: { action: 'session_revoked', sessionId } }, tx);
      });
    },

    async enrollFactor(accessToken, body) {
      return mfa.enroll(await authenticate(accessToken), body);
    },
    async challengeFactor(accessToken, factorId, _body, meta) {
      return mfa.challenge(await authenticate(accessToken), factorId, meta);
    },
    async verifyFactor(accessToken, factorId, body, meta) {
      return mfa.verify(await authenticate(accessToken), factorId, body, meta);
    },
    async unenrollFactor(accessToken, factorId, meta) {
      return mfa.unenroll(await authenticate(accessToken), factorId, meta);
    },

    async verifyAccessToken(accessToken) {
      return (await authenticate(accessToken)).claims;
    },

    async settings() {
      return {
        external: { email: true, phone: true, anonymous_users: false, ...Object.fromEntries(auth.oidcIssuers.map((i) => [i.provider, true])) },
        disable_signup: auth.disableSignup,
        mailer_autoconfirm: auth.autoconfirm,
        phone_autoconfirm: auth.autoconfirm,
        sms_provider: auth.notifier.kind === 'dev' ? 'dev' : '',
        saml_enabled: false,
        mfa_enabled: true,
      };
    },
    health: async () => ({ version, name: 'GoTrue', description: 'idgraph embedded GoTrue-compatible engine' }),
    jwks: async () => keys.jwks() as { keys: Record<string, unknown>[] },
    openidConfiguration: async () => ({
      issuer: auth.jwt.issuer,
      jwks_uri: `${auth.publicUrl}/auth/v1/.well-known/jwks.json`,
      authorization_endpoint: `${auth.publicUrl}/auth/v1/authorize`,
      token_endpoint: `${auth.publicUrl}/auth/v1/token`,
      userinfo_endpoint: `${auth.publicUrl}/auth/v1/user`,
      response_types_supported: ['code', 'token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['ES256'],
      grant_types_supported: ['password', 'refresh_token', 'pkce', 'id_token'],
    }),

    admin: {
      async authorize(accessToken) {
        if (!accessToken) throw providerErrors.noAuthorization();
        let role: unknown;
        try {
          role = (await keys.verify(accessToken)).payload.role;
        } catch {
          throw providerErrors.badJwt();
        }
        if (typeof role !== 'string' || !ADMIN_ROLES.has(role)) throw providerErrors.notAdmin();
      },
      listUsers: (page, perPage) => admin.listUsers(page, perPage),
      getUser: (id) => admin.getUser(id),
      createUser: (body) => admin.createUser(body),
      updateUser: (id, body) => admin.updateUser(id, body),
      deleteUser: (id, soft) => admin.deleteUser(id, soft),
      generateLink: (body, redirectTo) => admin.generateLink(body, redirectTo),
      async inviteUser(body, redirectTo) {
        const link = await admin.generateLink({ ...body, type: 'invite' }, redirectTo);
        await notifier.send({
          channel: 'email',
          to: String(link.email),
          kind: 'invite',
          subject: 'You have been invited',
          body: `You have been invited. Your code is ${link.email_otp}\n\nOr follow this link: ${link.action_link}`,
        });
        return toUser(await db.authUser.findUniqueOrThrow({ where: { id: String(link.id) }, include: userInclude }));
      },
      listFactors: (userId) => admin.listFactors(userId),
      deleteFactor: (userId, factorId) => admin.deleteFactor(userId, factorId),
    },
  };

  return {
    provider,
    keys,
    /** Signing key and API keys; prints the keys once, when they are first created. */
    async init() {
      await keys.init();
      const anon = await ensureApiKey('anon', auth.anonKey);
      const service = await ensureApiKey('service_role', auth.serviceRoleKey);
      apiKeys.anon = anon.value;
      apiKeys.serviceRole = service.value;
      if (anon.created || service.created) {
        print(
          `\nidgraph generated its API keys (shown once; also kept, ${box.encrypted ? 'encrypted' : 'unencrypted'}, in the database):\n` +
            `  anon key:         ${anon.value}\n  service-role key: ${service.value}\n`,
        );
      }
    },
    /** True when `value` is the anon or the service-role key (the gateway's apikey check). */
    isApiKey: (value: string | null) => isApiKey(value, apiKeys),
    apiKeys: () => ({ ...apiKeys }),
    /** Resolves when every code requested by address has been issued and sent (they go after the answer). */
    settled: () => afterAnswer.settled(),
  };
}

export type EmbeddedEngine = ReturnType<typeof createEmbeddedEngine>;
