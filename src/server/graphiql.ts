import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';

/*
 * GraphiQL from the installed @graphql-yoga/render-graphiql, as same-origin files: the page loads nothing from
 * another origin, so it works offline, and it runs under a CSP that allows only this origin's scripts and workers.
 * The package's own page inlines the bundle and starts Monaco's workers from blob: URLs, which such a CSP forbids.
 */

export const graphiqlAssetPath = '/graphql/graphiql/';

// Inline styles stay allowed: GraphiQL and Monaco set style attributes and <style> elements at run time.
export const graphiqlContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "worker-src 'self'",
  "connect-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const workerFiles: Record<string, string> = { editorWorkerService: 'editor.worker.js', json: 'json.worker.js', graphql: 'graphql.worker.js' };

// Monaco asks for a worker by label; the workers sit beside this script. The options come from the page as JSON.
const bootstrap = {
  before: `(function () {
  var base = document.currentScript.src;
  var files = ${JSON.stringify(workerFiles)};
  self.MonacoEnvironment = {
    globalAPI: false,
    getWorkerUrl: function (_moduleId, label) { return new URL(files[label] || files.editorWorkerService, base).href; },
  };
})();
`,
  after: `;
YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), JSON.parse(document.getElementById('graphiql-options').textContent));
`,
};

interface Asset {
  type: string;
  body: Buffer;
  etag: string;
  gzipped?: Buffer;
}

type Bundle = typeof import('@graphql-yoga/render-graphiql/graphiql');
const javascript = 'text/javascript; charset=utf-8';
const sources: Record<string, { type: string; body: (bundle: Bundle) => Buffer }> = {
  'graphiql.js': { type: javascript, body: ({ js }) => Buffer.from(bootstrap.before + js + bootstrap.after) },
  'graphiql.css': { type: 'text/css; charset=utf-8', body: ({ css }) => Buffer.from(css) },
  'editor.worker.js': { type: javascript, body: ({ editorWorkerService }) => Buffer.from(editorWorkerService) },
  'json.worker.js': { type: javascript, body: ({ jsonWorker }) => Buffer.from(jsonWorker) },
  'graphql.worker.js': { type: javascript, body: ({ graphqlWorker }) => Buffer.from(graphqlWorker) },
  'favicon.ico': { type: 'image/x-icon', body: ({ favicon }) => Buffer.from(favicon.slice(favicon.indexOf(',') + 1), 'base64') },
};

// The bundle (9 MB of source) is loaded on the first request for a file: most processes never serve GraphiQL.
let bundle: Promise<Bundle> | undefined;
const built = new Map<string, Asset>();
async function asset(name: string): Promise<Asset | undefined> {
  if (!Object.hasOwn(sources, name)) return undefined;
  let found = built.get(name);
  if (!found) {
    const { type, body } = sources[name]!;
    const bytes = body(await (bundle ??= import('@graphql-yoga/render-graphiql/graphiql')));
    found = { type, body: bytes, etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 22)}"` };
    built.set(name, found);
  }
  return found;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
// Inside <script type="application/json">, `<` is the only character that could end the element.
const jsonForScript = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

/** The GraphiQL page: markup and options only; every script, style and worker is a same-origin file. */
export function renderGraphiQLPage(options: GraphiQLOptions = {}): string {
  const title = escapeHtml(options.title || 'GraphiQL');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${title}</title>
    <link rel="icon" href="${graphiqlAssetPath}favicon.ico" />
    <link rel="stylesheet" href="${graphiqlAssetPath}graphiql.css" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run GraphiQL.</noscript>
    <div id="root"></div>
    <script type="application/json" id="graphiql-options">${jsonForScript(options)}</script>
    <script src="${graphiqlAssetPath}graphiql.js"></script>
  </body>
</html>
`;
}

/** Answers a request for one of GraphiQL's files: 404 for any other name, 304 when the client holds it already. */
async function serveAsset(name: string, request: Request, Response: typeof globalThis.Response): Promise<Response> {
  const found = request.method === 'GET' || request.method === 'HEAD' ? await asset(name) : undefined;
  if (!found) return new Response(null, { status: 404 });
  const headers: Record<string, string> = {
    'content-type': found.type,
    etag: found.etag,
    'cache-control': 'no-cache',
    vary: 'accept-encoding',
    'x-content-type-options': 'nosniff',
  };
  if (request.headers.get('if-none-match') === found.etag) return new Response(null, { status: 304, headers });
  let body = found.body;
  if (/\bgzip\b/.test(request.headers.get('accept-encoding') ?? '')) {
    found.gzipped ??= gzipSync(found.body);
    body = found.gzipped;
    headers['content-encoding'] = 'gzip';
  }
  return new Response(request.method === 'HEAD' ? null : new Uint8Array(body), { status: 200, headers });
}

/** Serves GraphiQL's files under graphiqlAssetPath, and gives the page its CSP. */
export function useGraphiQLAssets(): Plugin {
  return {
    onRequest({ url, request, endResponse, fetchAPI }) {
      if (!url.pathname.startsWith(graphiqlAssetPath)) return undefined;
      return serveAsset(url.pathname.slice(graphiqlAssetPath.length), request, fetchAPI.Response).then(endResponse);
    },
    onResponse({ response }) {
      if (!response.headers.get('content-type')?.startsWith('text/html')) return;
      response.headers.set('content-security-policy', graphiqlContentSecurityPolicy);
      response.headers.set('x-content-type-options', 'nosniff');
      response.headers.set('referrer-policy', 'no-referrer');
    },
  };
}
