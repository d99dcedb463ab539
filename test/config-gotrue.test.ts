import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { problemsOf } from './helpers/config.js';

const anon = 'anon-key-0123456789abcdef';
const service = 'service-key-0123456789abcdef';


describe('GoTrue configuration', () => {
  it('is off without GOTRUE_URL', () => {
    expect(loadConfig({}).gotrue).toBeNull();
  });

  it('GOTRUE_URL with its keys: JWKS at the URL by default, timeouts and breaker defaults', () => {
    const config = loadConfig({ GOTRUE_URL: 'https://ref.supabase.co/auth/v1/', GOTRUE_ANON_KEY: anon, GOTRUE_SERVICE_ROLE_KEY: service });
    expect(config.gotrue).toMatchObject({
      url: 'https://ref.supabase.co/auth/v1',
      anonKey: anon,
      serviceRoleKey: service,
      jwtSecret: null,
      jwksUrl: 'https://ref.supabase.co/auth/v1/.well-known/jwks.json',
      issuer: null,
      timeouts: { connectMs: 2000, headersMs: 10_000, bodyMs: 10_000 },
      retries: 2,
      breaker: { threshold: 5, cooldownMs: 10_000 },
      hookSecret: null,
    });
  });

  it('names each missing or bad variable, without echoing secrets', () => {
    const problems = problemsOf({ GOTRUE_URL: 'ftp://x', GOTRUE_JWT_SECRET: 'short', GOTRUE_HOOK_SECRET: 'whsec_nope', GOTRUE_RETRIES: '9' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(
      ['GOTRUE_ANON_KEY', 'GOTRUE_HOOK_SECRET', 'GOTRUE_JWT_SECRET', 'GOTRUE_RETRIES', 'GOTRUE_SERVICE_ROLE_KEY', 'GOTRUE_URL'],
    );
    expect(problems.join('\n')).not.toContain('whsec_nope');
    const missing = problemsOf({ GOTRUE_URL: 'https://ref.supabase.co/auth/v1' });
    expect(missing.map((p) => p.split(':')[0]).sort()).toEqual(['GOTRUE_ANON_KEY', 'GOTRUE_SERVICE_ROLE_KEY']);
  });

  it('reads *_FILE secrets; an unreadable file or both forms are named', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'idgraph-secrets-'));
    writeFileSync(path.join(dir, 'service'), `${service}\n`);
    const config = loadConfig({ GOTRUE_URL: 'https://g.example', GOTRUE_ANON_KEY: anon, GOTRUE_SERVICE_ROLE_KEY_FILE: path.join(dir, 'service') });
    expect(config.gotrue?.serviceRoleKey).toBe(service);
    const problems = problemsOf({
      GOTRUE_URL: 'https://g.example',
      GOTRUE_ANON_KEY: anon,
      GOTRUE_ANON_KEY_FILE: path.join(dir, 'service'),
      GOTRUE_SERVICE_ROLE_KEY_FILE: path.join(dir, 'missing'),
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'GOTRUE_ANON_KEY_FILE: set GOTRUE_ANON_KEY or GOTRUE_ANON_KEY_FILE, not both',
        expect.stringMatching(/^GOTRUE_SERVICE_ROLE_KEY_FILE: cannot read .*missing \(ENOENT\)$/),
      ]),
    );
  });
});
