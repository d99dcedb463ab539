import { hash, verify } from '@node-rs/argon2';
import { ProviderError } from '../errors.js';

// OWASP's argon2id parameters: 19 MiB, 2 iterations, 1 lane.
const params = { algorithm: 2 /* Algorithm.Argon2id (a const enum) */, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const hashPassword = (password: string) => hash(password, params);

// Verified against when the user does not exist, so a miss costs what a hit costs.
let dummyHash: Promise<string> | undefined;

/** Constant-work verification: an unknown user still pays one argon2id verification. */
export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  if (!stored) {
    dummyHash ??= hashPassword('idgraph-dummy-password');
    await verify(await dummyHash, password).catch(() => false);
    return false;
  }
  return verify(stored, password).catch(() => false);
}

export function assertPasswordAcceptable(password: unknown, minLength: number): asserts password is string {
  if (typeof password !== 'string' || password.length === 0) {
    throw new ProviderError(422, 'validation_failed', 'Password is required');
  }
  if (password.length > 72) throw new ProviderError(422, 'validation_failed', 'Password cannot be longer than 72 characters');
  if (password.length < minLength) {
    throw new ProviderError(422, 'weak_password', `Password should be at least ${minLength} characters.`, {
      weakPassword: { reasons: ['length'] },
    });
  }
}
