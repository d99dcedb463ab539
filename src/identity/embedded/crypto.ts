import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** GoTrue's OTP/link token hash: hex(sha224(emailOrPhone + otp)). */
export const gotrueTokenHash = (identifier: string, otp: string) => createHash('sha224').update(identifier + otp).digest('hex');

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
