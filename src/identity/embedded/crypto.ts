import { createCipheriv, createDecipheriv, createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

export const sha256Hex = (value: string) => createHash('sha256').update(value).digest('hex');

/** GoTrue's OTP/link token hash: hex(sha224(emailOrPhone + otp)). */
export const gotrueTokenHash = (identifier: string, otp: string) => createHash('sha224').update(identifier + otp).digest('hex');

export const randomUrlToken = (bytes = 32) => randomBytes(bytes).toString('base64url');

/** A numeric one-time code of `length` digits, uniformly drawn. */
export function numericOtp(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += randomInt(10).toString();
  return out;
}

/** Compares two strings in time independent of where they differ (and of their lengths). */
export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

export interface SecretBox {
  readonly encrypted: boolean;
  seal(plain: string): string;
  open(stored: string): string;
}

const prefix = 'enc:v1:';

/**
 * AES-256-GCM with the configured key-encryption key. Without one (embedded
 * dev mode) values are stored as given; `open` refuses encrypted values then.
 */
export function createSecretBox(key: Buffer | null): SecretBox {
  return {
    encrypted: key !== null,
    seal(plain) {
      if (!key) return plain;
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return `${prefix}${iv.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}.${body.toString('base64url')}`;
    },
    open(stored) {
      if (!stored.startsWith(prefix)) return stored;
      if (!key) throw new Error('an encrypted secret was found but AUTH_KEY_ENCRYPTION_KEY is not set');
      const [iv, tag, body] = stored.slice(prefix.length).split('.');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv ?? '', 'base64url'));
      decipher.setAuthTag(Buffer.from(tag ?? '', 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body ?? '', 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}
