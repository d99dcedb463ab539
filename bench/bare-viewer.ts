import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import pg from 'pg';

// The bare reference for bench/viewer.ts: the same jose verification and the
// same SQL as idgraph's viewer query, with pg and node:http, no GraphQL.
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const jwks = createRemoteJWKSet(new URL(process.env.JWKS_URL!));

const server = http.createServer(async (req, res) => {
  try {
    for await (const _ of req) {
      // drain the GraphQL body; the reference answers one fixed query
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const { payload } = await jwtVerify(token, jwks, { algorithms: ['ES256'], issuer: process.env.ISSUER, audience: process.env.AUDIENCE });
    const sub = String(payload.sub);
    // Named statements, as idgraph's pg driver sends them (DATABASE_STATEMENT_CACHE): planned once per connection.
    const state = await pool.query({
      name: 'state',
      text: `SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE key IN ($1, $2, $5) AND expires_at > now()
                            AND (not_before IS NULL OR not_before > $6))
                     OR NOT EXISTS (SELECT 1 FROM auth_sessions WHERE id = $4::uuid) AS revoked,
              (SELECT status::text FROM users WHERE id = $3::uuid) AS status`,
      values: [`jti:${payload.jti}`, `sid:${payload.session_id}`, sub, payload.session_id, `usr:${sub}`, new Date(Number(payload.iat) * 1000)],
    });
    if (state.rows[0].revoked || (state.rows[0].status && state.rows[0].status !== 'active')) throw new Error('refused');
    const user = await pool.query({ name: 'user', text: 'SELECT id, email FROM users WHERE id = $1', values: [sub] });
    const memberships = await pool.query({
      name: 'memberships',
      text: `SELECT t.id, t.display_name, r.name, r.permissions FROM memberships m
       JOIN tenants t ON t.id = m.tenant_id JOIN roles r ON r.id = m.role_id
       WHERE m.user_id = $1 AND t.deleted_at IS NULL ORDER BY m.created_at`,
      values: [sub],
    });
    const body = JSON.stringify({
      data: {
        viewer: {
          user: { id: user.rows[0].id, email: user.rows[0].email },
          memberships: memberships.rows.map((m) => ({ tenant: { id: m.id, displayName: m.display_name }, role: { name: m.name, permissions: m.permissions } })),
        },
      },
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  } catch {
    res.writeHead(401);
    res.end();
  }
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as AddressInfo).port })));
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
