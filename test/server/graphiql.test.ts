import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphiqlContentSecurityPolicy } from '../../src/server/graphiql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

// GraphiQL is served from the installed package: no CDN, and it renders and runs a query with every other host
// unreachable, under a CSP that allows only the page's own origin.

// Debian's chromium (README, Tests); CHROMIUM_PATH names another build. Without one the browser test is skipped on
// a developer's machine; under CI (which installs it) it runs, and a missing browser fails it.
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const browserTest = existsSync(chromiumPath) || Boolean(process.env.CI);

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const page = () => fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });

describe('GraphiQL page', () => {
  it('names no other origin, and carries a same-origin CSP', async () => {
    const response = await page();
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('<title>idgraph</title>');
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script>/);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toBe(graphiqlContentSecurityPolicy);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/https?:|\*|unsafe-eval|blob:/);
    for (const src of html.match(/(?:src|href)="[^"]+"/g) ?? []) expect(src).toMatch(/^(?:src|href)="\/graphql\/graphiql\//);
  });

  it('serves its files with validators; unknown files are 404', async () => {
    const script = await fetch(`${t.url}/graphql/graphiql/graphiql.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('text/javascript');
    const etag = script.headers.get('etag')!;
    expect((await script.text()).length).toBeGreaterThan(1_000_000);
    expect((await fetch(`${t.url}/graphql/graphiql/graphiql.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await fetch(`${t.url}/graphql/graphiql/nope.js`)).status).toBe(404);
    expect((await fetch(`${t.url}/graphql/graphiql/..%2Fpackage.json`)).status).toBe(404);
  });
});

describe.runIf(browserTest)('GraphiQL in Chromium, with every other host unreachable', () => {
  let userDataDir: string;
  let context: BrowserContext;
  beforeAll(async () => {
    userDataDir = await mkdtemp(path.join(tmpdir(), 'idgraph-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await context?.close();
    await rm(userDataDir, { recursive: true, force: true });
  });

  it('renders the editor and runs { __typename }', async () => {
    const blocked: string[] = [];
    const violations: string[] = [];
    const errors: string[] = [];
    await context.route('**/*', (route) => {
      if (route.request().url().startsWith(`${t.url}/`)) return route.continue();
      blocked.push(route.request().url());
      return route.abort();
    });
    const tab = await context.newPage();
    tab.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    tab.on('pageerror', (error) => errors.push(error.message));
    await tab.exposeFunction('reportViolation', (text: string) => violations.push(text));
    await tab.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) =>
        (window as unknown as { reportViolation(text: string): void }).reportViolation(`${event.violatedDirective} ${event.blockedURI}`),
      );
    });

    await tab.goto(`${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}`);
    const editor = tab.locator('.graphiql-query-editor .monaco-editor').first();
    await editor.waitFor({ state: 'visible', timeout: 30_000 });
    await tab.locator('.graphiql-execute-button').first().click();
    const result = tab.locator('.graphiql-response');
    await expect.poll(async () => result.innerText(), { timeout: 30_000 }).toMatch(/"__typename":\s*"Query"/);

    expect(blocked).toEqual([]);
    expect(violations).toEqual([]);
    expect(errors.filter((text) => /Content Security Policy|Refused to/.test(text))).toEqual([]);
  }, 90_000);
});
