import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JSONWebKeySet, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier, type TokenVerifierOptions } from '../../src/auth/verify.js';
import { AppError } from '../../src/errors.js';

const issuer = 'http://idgraph.test/auth/v1';
const now = Date.UTC(2026, 10, 23, 12, 0, 0);
const seconds = Math.floor(now / 1000);

let es: CryptoKeyPair;
let other: CryptoKeyPair;
let rsa: CryptoKeyPair;
let jwks: JSONWebKeySet;
let jwksServer: http.Server;
let jwksUrl: string;

beforeAll(async () => {
  es = await generateKeyPair('ES256', { extractable: true });
  other = await generateKeyPair('ES256', { extractable: true });
  rsa = await generateKeyPair('RS256', { extractable: true });
  jwks = {
    keys: [
      { ...(await exportJWK(es.publicKey)), kid: 'k1', alg: 'ES256' },
      { ...(await exportJWK(rsa.publicKey)), kid: 'r1', alg: 'RS256' },
    ],
  };
  jwksServer = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
});
afterAll(() => new Promise<void>((resolve) => jwksServer.close(() => resolve())));

function verifier(overrides: Partial<TokenVerifierOptions> = {}) {
  return createTokenVerifier({
    issuer,
    audience: 'authenticated',
    algorithms: ['ES256'],
    keys: { kind: 'local', jwks: () => jwks },
    leewaySeconds: 30,
    clock: () => now,
    ...overrides,
  });
}

interface Mint {
  alg?: string;
  kid?: string;
  key?: CryptoKey | Uint8Array;
  claims?: Record<string, unknown>;
}

function mint({ alg = 'ES256', kid = 'k1', key, claims = {} }: Mint = {}) {
  return new SignJWT({ sub: 'user-1', aud: 'authenticated', iss: issuer, iat: seconds, exp: seconds + 3600, role: 'authenticated', ...claims })
    .setProtectedHeader({ alg, kid })
    .sign(key ?? es.privateKey);
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return (error as AppError).code;
  }
  return 'accepted';
}

describe('access-token verification taxonomy', () => {
  it('accepts a valid ES256 token and returns its claims', async () => {
    const claims = await verifier().verify(await mint());
    expect(claims).toMatchObject({ sub: 'user-1', role: 'authenticated' });
  });

  it('accepts within the clock-skew leeway and refuses beyond it', async () => {
    expect(await codeOf(verifier().verify(await mint({ claims: { exp: seconds - 20 } })))).toBe('accepted');
    expect(await codeOf(verifier().verify(await mint({ claims: { exp: seconds - 40 } })))).toBe('expired');
  });

  const cases: Array<[string, () => Promise<string>, Partial<TokenVerifierOptions>?]> = [
    ['malformed', async () => 'not-a-jwt'],
    ['malformed', async () => `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.e30`],
    ['malformed', async () => mint({ claims: { sub: undefined } })],
    ['wrong_algorithm', async () => mint({ alg: 'RS256', kid: 'r1', key: rsa.privateKey })],
    ['wrong_algorithm', async () => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.`],
    ['wrong_algorithm', async () => mint({ alg: 'HS256', key: new TextEncoder().encode('x'.repeat(32)) })],
    ['bad_signature', async () => mint({ key: other.privateKey })],
    ['wrong_issuer', async () => mint({ claims: { iss: 'https://evil.example/auth/v1' } })],
    ['wrong_audience', async () => mint({ claims: { aud: 'service' } })],
    ['expired', async () => mint({ claims: { exp: seconds - 3600 } })],
    ['not_yet_valid', async () => mint({ claims: { nbf: seconds + 600 } })],
    ['unknown_kid', async () => mint({ kid: 'k-unknown' })],
  ];
  for (const [code, token, overrides] of cases) {
    it(`${code}: ${token.toString().slice(6, 80)}`, async () => {
      expect(await codeOf(verifier(overrides).verify(await token()))).toBe(code);
    });
  }

  it('requires exp, iat and iss; an iat beyond the clock-skew leeway (30 s here) is not_yet_valid, on every key path', async () => {
    const year = 365 * 24 * 3600;
    for (const iat of [seconds + year, seconds + 600, seconds + 31]) {
      expect(await codeOf(verifier().verify(await mint({ claims: { iat, exp: iat + 3600 } }))), `iat now+${iat - seconds}`).toBe('not_yet_valid');
    }
    expect(await codeOf(verifier().verify(await mint({ claims: { iat: seconds + 20 } })))).toBe('accepted');
    expect(await codeOf(verifier().verify(await mint({ claims: { exp: undefined } })))).toBe('malformed');
    expect(await codeOf(verifier().verify(await mint({ claims: { iat: undefined } })))).toBe('malformed');
    expect(await codeOf(verifier().verify(await mint({ claims: { iat: String(seconds) } })))).toBe('malformed');
    expect(await codeOf(verifier().verify(await mint({ claims: { iss: undefined } })))).toBe('wrong_issuer');
    const secret = 's'.repeat(40);
    const legacy = await mint({ alg: 'HS256', key: new TextEncoder().encode(secret), claims: { iat: seconds + year, exp: seconds + year + 3600 } });
    expect(await codeOf(verifier({ hs256Secret: secret }).verify(legacy))).toBe('not_yet_valid');
    const remote = verifier({ keys: { kind: 'remote', url: jwksUrl } });
    expect(await codeOf(remote.verify(await mint({ claims: { iat: seconds + year, exp: seconds + year + 3600 } })))).toBe('not_yet_valid');
  });

  it('local keys: an unknown kid reloads the key set once (another replica rotated), then verifies or is unknown_kid', async () => {
    let set: JSONWebKeySet = { keys: [] };
    let reloads = 0;
    const local = verifier({
      keys: {
        kind: 'local',
        jwks: () => set,
        reload: async () => {
          reloads += 1;
          set = jwks;
          return true;
        },
      },
    });
    expect(await codeOf(local.verify(await mint()))).toBe('accepted');
    expect(reloads).toBe(1);
    expect(await codeOf(local.verify(await mint({ kid: 'k-unknown' })))).toBe('unknown_kid');
    expect(reloads).toBe(2);
  });

  it('HS256 is accepted only with a configured legacy secret', async () => {
    const secret = 's'.repeat(40);
    const token = await mint({ alg: 'HS256', key: new TextEncoder().encode(secret) });
    expect(await codeOf(verifier({ hs256Secret: secret }).verify(token))).toBe('accepted');
    expect(await codeOf(verifier({ hs256Secret: 'w'.repeat(40) }).verify(token))).toBe('bad_signature');
    expect(await codeOf(verifier().verify(token))).toBe('wrong_algorithm');
  });

  it('verifies against a remote JWKS; an unreachable JWKS is jwks_fetch_failed', async () => {
    const remote = verifier({ keys: { kind: 'remote', url: jwksUrl }, algorithms: ['ES256', 'RS256'] });
    expect(await codeOf(remote.verify(await mint({ alg: 'RS256', kid: 'r1', key: rsa.privateKey })))).toBe('accepted');
    const down = verifier({ keys: { kind: 'remote', url: 'http://127.0.0.1:1/jwks.json', timeoutMs: 500 } });
    expect(await codeOf(down.verify(await mint()))).toBe('jwks_fetch_failed');
  });
});
