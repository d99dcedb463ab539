import { createHash, randomUUID } from 'node:crypto';
import type { PrismaClient } from '../../generated/prisma/client.js';
import { ProviderError } from '../errors.js';
import { constantTimeEqual, sha256Hex } from '../../crypto.js';

export interface PkceChallenge {
  challenge: string;
  method: 's256' | 'plain';
}

const FLOW_STATE_TTL_MS = 300_000;

/** code_challenge + code_challenge_method from a request body, or null when the flow is implicit. */
export function pkceFrom(body: Record<string, unknown>): PkceChallenge | null {
  const challenge = body.code_challenge;
  if (challenge === undefined || challenge === null || challenge === '') return null;
  const method = String(body.code_challenge_method ?? '').toLowerCase();
  if (typeof challenge !== 'string' || !/^[A-Za-z0-9._~-]{43,128}$/.test(challenge)) {
    throw new ProviderError(400, 'validation_failed', 'code challenge does not match previously saved code verifier');
  }
  if (method !== 's256' && method !== 'plain') throw new ProviderError(400, 'validation_failed', 'code challenge method not supported');
  return { challenge, method };
}

/** PKCE flow states: created when a link is mailed, turned into an auth code by GET /verify, exchanged once. */
export function createPkce({ db, clock }: { db: PrismaClient; clock: () => number }) {
  return {
    async start(userId: string, pkce: PkceChallenge, authenticationMethod: string) {
      await db.authFlowState.create({
        data: { userId, codeChallenge: pkce.challenge, codeChallengeMethod: pkce.method, authenticationMethod },
      });
    },

    /** The auth code for the user's newest flow of that method, or null when the link was not a PKCE one. */
    async issueCode(userId: string, authenticationMethod: string): Promise<string | null> {
      const flow = await db.authFlowState.findFirst({
        where: { userId, authenticationMethod, authCodeHash: null },
        orderBy: { createdAt: 'desc' },
      });
      if (!flow) return null;
      const code = randomUUID();
      await db.authFlowState.update({ where: { id: flow.id }, data: { authCodeHash: sha256Hex(code), authCodeIssuedAt: new Date(clock()) } });
      return code;
    },

    /** grant_type=pkce: checks the verifier and consumes the flow state. */
    async exchange(body: Record<string, unknown>): Promise<{ userId: string; method: string }> {
      const authCode = typeof body.auth_code === 'string' ? body.auth_code : '';
      const verifier = typeof body.code_verifier === 'string' ? body.code_verifier : '';
      if (!authCode || !verifier) throw new ProviderError(400, 'validation_failed', 'invalid request: both auth code and code verifier should be non-empty');
      const flow = await db.authFlowState.findUnique({ where: { authCodeHash: sha256Hex(authCode) } });
      if (!flow || !flow.userId) throw new ProviderError(404, 'flow_state_not_found', 'invalid flow state, no valid flow state found');
      // Consumed whatever the outcome: an auth code is single use.
      await db.authFlowState.delete({ where: { id: flow.id } });
      if ((flow.authCodeIssuedAt?.getTime() ?? 0) + FLOW_STATE_TTL_MS < clock()) {
        throw new ProviderError(422, 'flow_state_expired', 'invalid flow state, flow state has expired');
      }
      const computed = flow.codeChallengeMethod === 's256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
      if (!constantTimeEqual(computed, flow.codeChallenge)) {
        throw new ProviderError(400, 'bad_code_verifier', 'code challenge does not match previously saved code verifier');
      }
      return { userId: flow.userId, method: flow.authenticationMethod };
    },
  };
}

export type Pkce = ReturnType<typeof createPkce>;
