import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';

/**
 * A local stand-in for an external OIDC issuer (Authentik, say): discovery and
 * a JWKS on a real HTTP server, and id_tokens signed with its RS256 key.
 */
export async function startOidcIssuer() {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const stranger = await generateKeyPair('RS256');
  const kid = 'issuer-key-1';
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  let jwksRequests = 0;
  const server = http.createServer((req, res) => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks` }));
    } else if (req.url === '/jwks') {
      jwksRequests++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    issuer,
    jwksRequests: () => jwksRequests,
    hashNonce: (raw: string) => createHash('sha256').update(raw).digest('hex'),
    async idToken(claims: JWTPayload & { email?: string; email_verified?: boolean; nonce?: string }, options: { aud?: string; expiresAt?: number; unknownKey?: boolean; iat?: number } = {}) {
      const jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: options.unknownKey ? 'some-other-key' : kid })
        .setIssuer(issuer)
        .setAudience(options.aud ?? 'idgraph-client')
        .setIssuedAt(options.iat)
        .setExpirationTime(options.expiresAt ?? '5m');
      return jwt.sign(options.unknownKey ? stranger.privateKey : privateKey);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
