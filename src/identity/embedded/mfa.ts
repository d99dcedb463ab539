import * as OTPAuth from 'otpauth';
import QRCode from 'qrcode';
import type { AuthConfig } from '../../config.js';
import type { AuthMfaFactor, PrismaClient } from '../../generated/prisma/client.js';
import { ProviderError } from '../errors.js';
import type { Notifier } from '../notifier.js';
import type { SecurityEventRecorder } from '../security-events.js';
import type { AccessTokenResponse, RequestMeta } from '../types.js';
import { type SecretBox } from './crypto.js';
import { constantTimeEqual, numericOtp, sha256Hex } from '../../crypto.js';
import type { Authenticated, SessionManager } from './sessions.js';
import { isUuid } from '../../uuid.js';
import { normalizePhone, userInclude } from './users.js';

export interface MfaDeps {
  db: PrismaClient;
  auth: AuthConfig;
  sessions: SessionManager;
  box: SecretBox;
  notifier: Notifier;
  clock: () => number;
  recordSecurityEvent: SecurityEventRecorder;
}

const STALE_UNVERIFIED_MS = 300_000;

function totpFor(secretBase32: string, issuer: string, label: string) {
  return new OTPAuth.TOTP({ issuer, label, algorithm: 'SHA1', digits: 6, period: 30, secret: OTPAuth.Secret.fromBase32(secretBase32) });
}

export function createMfa({ db, auth, sessions, box, notifier, clock, recordSecurityEvent }: MfaDeps) {
  const issuerName = new URL(auth.siteUrl).host;

  async function ownFactor(who: Authenticated, factorId: string): Promise<AuthMfaFactor> {
    // PostgreSQL reads many spellings as one uuid; callers canonicalise, anything else is refused before SQL.
    if (!isUuid(factorId)) throw new ProviderError(404, 'validation_failed', 'factor_id must be an UUID');
    const factor = await db.authMfaFactor.findFirst({ where: { id: factorId, userId: who.user.id } });
    if (!factor) throw new ProviderError(404, 'mfa_factor_not_found', 'Factor not found');
    return factor;
  }

  return {
    async enroll(who: Authenticated, body: Record<string, unknown>) {
      const factorType = String(body.factor_type ?? '');
      if (factorType === 'webauthn') throw new ProviderError(422, 'mfa_webauthn_enroll_not_enabled', 'MFA enroll is disabled for WebAuthn');
      if (factorType !== 'totp' && factorType !== 'phone') {
        throw new ProviderError(400, 'validation_failed', 'factor_type needs to be totp, phone or webauthn');
      }
      const { user, session } = who;
      const verified = user.factors.filter((f) => f.status === 'verified');
      if (verified.length > 0 && session.aal !== 'aal2') {
        throw new ProviderError(403, 'insufficient_aal', 'AAL2 required to enroll a new factor');
      }
      await db.authMfaFactor.deleteMany({
        where: { userId: user.id, status: 'unverified', createdAt: { lt: new Date(clock() - STALE_UNVERIFIED_MS) } },
      });
      const current = await db.authMfaFactor.findMany({ where: { userId: user.id } });
      if (current.length >= auth.mfa.maxFactors) {
        throw new ProviderError(422, 'too_many_enrolled_mfa_factors', 'Maximum number of verified factors reached, unenroll to continue');
      }
      const friendlyName = typeof body.friendly_name === 'string' ? body.friendly_name.trim() : '';
      // Two unnamed factors conflict too, as in GoTrue.
      if (current.some((f) => (f.friendlyName ?? '') === friendlyName)) {
        throw new ProviderError(422, 'mfa_factor_name_conflict', `A factor with the friendly name "${friendlyName}" for this user already exists`);
      }
      if (factorType === 'phone') {
        if (!body.phone) throw new ProviderError(400, 'validation_failed', 'Phone number required to enroll Phone factor');
        const phone = normalizePhone(String(body.phone));
        const factor = await db.authMfaFactor.create({ data: { userId: user.id, factorType, friendlyName: friendlyName || null, phone } });
        return { id: factor.id, type: 'phone', friendly_name: friendlyName, phone };
      }
      const secret = new OTPAuth.Secret({ size: 20 }).base32;
      const issuer = typeof body.issuer === 'string' && body.issuer ? body.issuer : issuerName;
      const uri = totpFor(secret, issuer, user.email ?? user.phone ?? user.id).toString();
      const factor = await db.authMfaFactor.create({
        data: { userId: user.id, factorType, friendlyName: friendlyName || null, secret: box.seal(secret) },
      });
      const qr = await QRCode.toString(uri, { type: 'svg', margin: 1 });
      return { id: factor.id, type: 'totp', friendly_name: friendlyName, totp: { qr_code: qr, secret, uri } };
    },

    async challenge(who: Authenticated, factorId: string, meta: RequestMeta) {
      const factor = await ownFactor(who, factorId);
      let otpHash: string | null = null;
      if (factor.factorType === 'phone') {
        const code = numericOtp(6);
        otpHash = sha256Hex(code);
        await notifier.send({ channel: 'sms', to: `+${factor.phone}`, kind: 'mfa', subject: 'Your verification code', body: `Your code is ${code}` });
      }
      const challenge = await db.authMfaChallenge.create({ data: { factorId: factor.id, ipAddress: meta.ip ?? '', otpHash } });
      await db.authMfaFactor.update({ where: { id: factor.id }, data: { lastChallengedAt: challenge.createdAt } });
      return {
        id: challenge.id,
        type: factor.factorType,
        expires_at: Math.floor(challenge.createdAt.getTime() / 1000) + auth.mfa.challengeExpirySeconds,
      };
    },

    async verify(who: Authenticated, factorId: string, body: Record<string, unknown>, meta: RequestMeta): Promise<AccessTokenResponse> {
      const factor = await ownFactor(who, factorId);
      const challengeId = typeof body.challenge_id === 'string' ? body.challenge_id : '';
      const code = typeof body.code === 'string' ? body.code : '';
      if (!challengeId || !code) throw new ProviderError(400, 'validation_failed', 'challenge_id and code are required');
      const challenge = await db.authMfaChallenge.findFirst({ where: { id: challengeId, factorId: factor.id } });
      if (!challenge) throw new ProviderError(422, 'mfa_factor_not_found', 'Challenge not found');
      if (challenge.verifiedAt) throw new ProviderError(422, 'mfa_challenge_expired', 'Challenge has already been verified');
      if (challenge.createdAt.getTime() + auth.mfa.challengeExpirySeconds * 1000 < clock()) {
        await db.authMfaChallenge.delete({ where: { id: challenge.id } });
        throw new ProviderError(422, 'mfa_challenge_expired', `MFA challenge ${challenge.id} has expired, verify against another challenge or create a new challenge.`);
      }
      if (challenge.ipAddress !== (meta.ip ?? '')) {
        throw new ProviderError(422, 'mfa_ip_address_mismatch', 'Challenge and verify IP addresses mismatch');
      }
      const valid =
        factor.factorType === 'totp'
          ? totpFor(box.open(factor.secret ?? ''), issuerName, 'x').validate({ token: code, window: 1, timestamp: clock() }) !== null
          : challenge.otpHash !== null && constantTimeEqual(sha256Hex(code), challenge.otpHash);
      if (!valid) {
        throw new ProviderError(422, 'mfa_verification_failed', factor.factorType === 'totp' ? 'Invalid TOTP code entered' : 'Invalid MFA Phone code entered');
      }
      const method = factor.factorType === 'totp' ? 'totp' : 'mfa/phone';
      const { session, refreshToken } = await db.$transaction(async (tx) => {
        const claimed = await tx.authMfaChallenge.updateMany({ where: { id: challenge.id, verifiedAt: null }, data: { verifiedAt: new Date(clock()) } });
        if (claimed.count !== 1) throw new ProviderError(422, 'mfa_challenge_expired', 'Challenge has already been verified');
        await tx.authMfaFactor.update({ where: { id: factor.id }, data: { status: 'verified' } });
        // The first verification enrolls the factor; later ones are sign-in steps, not changes to the account.
        if (factor.status !== 'verified') {
          const what = { action: 'factor_enrolled', factorId: factor.id, factorType: factor.factorType } as const;
          await recordSecurityEvent({ userId: who.user.id, actorId: who.user.id, ip: meta.ip, requestId: meta.requestId, what }, tx);
        }
        await tx.authMfaFactor.deleteMany({ where: { userId: who.user.id, factorType: factor.factorType, status: 'unverified', id: { not: factor.id } } });
        const session = await sessions.strengthen(tx, who.session, method, { factorId: factor.id });
        // Other sessions below aal2 end, and this session's old (aal1) refresh tokens die.
        await tx.authSession.deleteMany({ where: { userId: who.user.id, aal: { not: 'aal2' }, id: { not: session.id } } });
        await tx.authRefreshToken.updateMany({ where: { sessionId: session.id, revoked: false }, data: { revoked: true } });
        return { session, refreshToken: await sessions.newRefreshToken(tx, session, null) };
      });
      const user = await db.authUser.findUniqueOrThrow({ where: { id: who.user.id }, include: userInclude });
      return sessions.respond(user, session, refreshToken);
    },

    async unenroll(who: Authenticated, factorId: string, meta?: RequestMeta) {
      const factor = await ownFactor(who, factorId);
      if (factor.status === 'verified' && who.session.aal !== 'aal2') {
        throw new ProviderError(422, 'insufficient_aal', 'AAL2 required to unenroll verified factor');
      }
      await db.$transaction(async (tx) => {
        await tx.authMfaFactor.delete({ where: { id: factor.id } });
        await tx.authSession.updateMany({ where: { factorId: factor.id }, data: { aal: 'aal1', factorId: null } });
        // An unverified factor never protected anything: removing it changes nothing the user should hear about.
        if (factor.status === 'verified') {
          const what = { action: 'factor_unenrolled', factorId: factor.id, factorType: factor.factorType } as const;
          await recordSecurityEvent({ userId: who.user.id, actorId: who.user.id, ip: meta?.ip, requestId: meta?.requestId, what }, tx);
        }
      });
      return { id: factor.id };
    },
  };
}

export type Mfa = ReturnType<typeof createMfa>;
