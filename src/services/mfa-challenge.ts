import type { IdentityProvider } from '../identity/provider.js';
import type { PremintedChallenge } from './access.js';
import type { Caller } from './caller.js';

/**
 * When a caller must pass MFA, opens a challenge on their first verified
 * factor (TOTP before phone: no message is sent for TOTP), so the answer can
 * carry it and the client goes straight to verifyFactor. Null when there is
 * nothing to challenge or the provider refuses; the refusal itself stands.
 */
export async function premintChallenge(provider: IdentityProvider, caller: Caller): Promise<PremintedChallenge | null> {
  if (!caller.accessToken || caller.viewer?.apiKey) return null;
  try {
    const user = await provider.getUser(caller.accessToken);
    const verified = (user.factors ?? []).filter((f) => f.status === 'verified');
    const factor = verified.find((f) => f.factor_type === 'totp') ?? verified[0];
    if (!factor) return null;
    const challenge = await provider.challengeFactor(caller.accessToken, factor.id, {}, caller.meta);
    return { factorId: factor.id, factorType: factor.factor_type, challengeId: challenge.id, expiresAt: challenge.expires_at };
  } catch {
    return null;
  }
}
