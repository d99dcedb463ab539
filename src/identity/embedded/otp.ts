import type { AuthConfig } from '../../config.js';
import type { Prisma, PrismaClient } from '../../generated/prisma/client.js';
import { ProviderError } from '../errors.js';
import type { Notifier } from '../notifier.js';
import { gotrueTokenHash } from './crypto.js';
import { redirectTarget } from './redirects.js';
import { numericOtp } from '../../crypto.js';

type Db = PrismaClient | Prisma.TransactionClient;

export type TokenType = 'confirmation' | 'recovery' | 'email_change_new' | 'phone_change' | 'reauthentication';

const sentAtColumn = {
  confirmation: 'confirmationSentAt',
  recovery: 'recoverySentAt',
  email_change_new: 'emailChangeSentAt',
  phone_change: 'phoneChangeSentAt',
  reauthentication: 'reauthenticationSentAt',
} as const satisfies Record<TokenType, string>;

const subjects: Record<string, string> = {
  signup: 'Confirm your signup',
  invite: 'You have been invited',
  magiclink: 'Your sign-in link',
  recovery: 'Reset your password',
  email_change: 'Confirm your new email address',
  reauthentication: 'Confirm it is you',
};

export interface OtpDeps {
  db: PrismaClient;
  auth: AuthConfig;
  notifier: Notifier;
  clock: () => number;
}

/**
 * One-time codes and link tokens, stored as GoTrue stores them (one per user and
 * type, hashed as hex(sha224(identifier + otp))). A code is both typed by the
 * user and, hashed, the token of the emailed link.
 */
export function createOtpManager({ db, auth, notifier, clock }: OtpDeps) {
  const expirySeconds = (relatesTo: string) => (relatesTo.includes('@') ? auth.otp.emailExpSeconds : auth.otp.smsExpSeconds);

  return {
    /** Creates (or replaces) a code, respecting the per-user send frequency, and delivers it. */
    async issue(
      user: { id: string; [key: string]: unknown },
      tokenType: TokenType,
      relatesTo: string,
      kind: string,
      options: { redirectTo?: string; deliver?: boolean; tx?: Db; /** 'pkce_' when the link starts a PKCE flow. */ linkPrefix?: string } = {},
    ): Promise<{ otp: string; tokenHash: string; messageId?: string }> {
      const tx = options.tx ?? db;
      const column = sentAtColumn[tokenType];
      const sentAt = new Date(clock());
      const tooSoon = (lastSent: Date | null | undefined) => {
        const waitSeconds = Math.max(1, Math.ceil(((lastSent?.getTime() ?? sentAt.getTime()) + auth.otp.maxFrequencySeconds * 1000 - clock()) / 1000));
        return new ProviderError(
          429,
          relatesTo.includes('@') ? 'over_email_send_rate_limit' : 'over_sms_send_rate_limit',
          `For security purposes, you can only request this after ${waitSeconds} seconds.`,
          { retryAfterSeconds: waitSeconds },
        );
      };
      const lastSent = user[column] as Date | null | undefined;
      const limited = options.deliver !== false && auth.otp.maxFrequencySeconds > 0;
      if (limited && lastSent && lastSent.getTime() + auth.otp.maxFrequencySeconds * 1000 > clock()) throw tooSoon(lastSent);
      // The send time is claimed in one conditional statement, so two requests at once cannot both send.
      const cutoff = new Date(clock() - auth.otp.maxFrequencySeconds * 1000);
      const { count } = await tx.authUser.updateMany({
        where: { id: user.id, ...(limited ? { OR: [{ [column]: null }, { [column]: { lte: cutoff } }] } : {}) } as Prisma.AuthUserWhereInput,
        data: { [column]: sentAt },
      });
      if (count === 0 && limited) throw tooSoon(null);
      const otp = numericOtp(auth.otp.length);
      const tokenHash = gotrueTokenHash(relatesTo, otp);
      await tx.authOneTimeToken.upsert({
        where: { userId_tokenType: { userId: user.id, tokenType } },
        create: { userId: user.id, tokenType, tokenHash, relatesTo },
        update: { tokenHash, relatesTo, createdAt: sentAt },
      });
      if (options.deliver === false) return { otp, tokenHash };
      const redirect = redirectTarget(auth, options.redirectTo)?.href;
      const link = `${auth.publicUrl}/auth/v1/verify?token=${options.linkPrefix ?? ''}${tokenHash}&type=${kind}${redirect ? `&redirect_to=${encodeURIComponent(redirect)}` : ''}`;
      const channel = relatesTo.includes('@') ? 'email' : 'sms';
      const { messageId } = await notifier.send({
        channel,
        to: channel === 'sms' ? `+${relatesTo}` : relatesTo,
        kind,
        subject: subjects[kind] ?? 'Your code',
        body: channel === 'sms' ? `Your code is ${otp}` : `Your code is ${otp}\n\nOr follow this link: ${link}`,
      });
      return { otp, tokenHash, messageId };
    },

    /**
     * Finds and consumes a matching, unexpired token of one of `types`. Either the
     * typed code with its identifier, or the link's token hash alone.
     */
    async consume(
      tx: Prisma.TransactionClient,
      types: TokenType[],
      proof: { token: string; identifier: string } | { tokenHash: string },
    ) {
      const tokenHash = 'tokenHash' in proof ? proof.tokenHash : gotrueTokenHash(proof.identifier, proof.token);
      const row = await tx.authOneTimeToken.findFirst({
        where: {
          tokenHash,
          tokenType: { in: types },
          ...('identifier' in proof ? { relatesTo: proof.identifier } : {}),
        },
      });
      if (!row) throw new ProviderError(403, 'otp_expired', 'Token has expired or is invalid');
      // Single use whatever happens next.
      const { count } = await tx.authOneTimeToken.deleteMany({ where: { id: row.id, tokenHash } });
      if (count !== 1) throw new ProviderError(403, 'otp_expired', 'Token has expired or is invalid');
      if (row.createdAt.getTime() + expirySeconds(row.relatesTo) * 1000 < clock()) {
        throw new ProviderError(403, 'otp_expired', 'Token has expired or is invalid');
      }
      return row;
    },
  };
}

export type OtpManager = ReturnType<typeof createOtpManager>;
