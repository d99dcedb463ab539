import type { Plugin } from 'graphql-yoga';
import type { OriginService } from '../services/origins.js';

/**
 * CORS for /graphql, decided by the realm's origin allowlist: a listed page
 * gets its Origin back with credentials, any page does (without credentials)
 * while the list is empty, and an unlisted page gets no CORS header at all, so
 * the browser withholds the answer. `Vary: Origin` keeps caches from serving
 * one page's answer to another. Preflights are answered here, with the same
 * decision; a lookup that fails allows nothing.
 */
export function useGraphqlCors(origins: Pick<OriginService, 'corsAccess'>): Plugin {
  async function headersFor(request: Request): Promise<Record<string, string>> {
    const origin = request.headers.get('origin');
    if (origin === null) return {};
    const access = await origins.corsAccess(origin).catch(() => 'none' as const);
    if (access === 'none') return { vary: 'Origin' };
    const headers: Record<string, string> = { 'access-control-allow-origin': origin, vary: 'Origin' };
    if (access === 'listed') headers['access-control-allow-credentials'] = 'true';
    if (request.method === 'OPTIONS') {
      headers['access-control-allow-methods'] = 'GET, POST, OPTIONS';
      const requested = request.headers.get('access-control-request-headers');
      if (requested) {
        headers['access-control-allow-headers'] = requested;
        headers.vary = 'Origin, Access-Control-Request-Headers';
      }
    }
    return headers;
  }

  return {
    async onRequest({ request, fetchAPI, endResponse }) {
      if (request.method !== 'OPTIONS') return;
      // Safari waits for a body on a 204 without content-length.
      endResponse(new fetchAPI.Response(null, { status: 204, headers: { 'content-length': '0', ...(await headersFor(request)) } }));
    },
    async onResponse({ request, response }) {
      if (request.method === 'OPTIONS') return;
      for (const [name, value] of Object.entries(await headersFor(request))) response.headers.set(name, value);
    },
  };
}
