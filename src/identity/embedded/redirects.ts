import { domainToASCII } from 'node:url';
import type { AuthConfig } from '../../config.js';

/**
 * Where a link may send the browser (with tokens in the fragment). Decided on the
 * URL as a browser parses it, never on the raw string: a glob over the raw text
 * accepts `https://evil.com?.example.com/`, `https://a.example.com@evil.com` and
 * other strings whose host is not the one the glob seems to name.
 *
 * Allowed: the site URL's origin (any path; any port when the site is on
 * loopback), or an AUTH_URI_ALLOW_LIST pattern `scheme://host[:port][/path]`
 * whose scheme and port equal the target's and whose host and path globs match
 * its hostname and pathname. Globs follow GoTrue's: `*` and `?` stop at the
 * separators `.` and `/` (in a host, `*` is one label), `**` crosses them,
 * `\c` is a literal c. The query is not matched; the fragment is dropped.
 */
export type RedirectPolicy = Pick<AuthConfig, 'siteUrl' | 'uriAllowList'>;

// Schemes whose URLs run or embed content where they are opened, whatever a pattern says.
const refusedSchemes = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:', 'filesystem:']);
const loopback = new Set(['localhost', '127.0.0.1', '[::1]']);
const maxLength = 2048;
// Controls, spaces and backslashes: a browser strips or reinterprets them, so no valid target has one.
const unsafeCharacter = /[\u0000-\u0020\u007f-\u00a0\u2028\u2029\\]/;

interface UriPattern {
  protocol: string;
  host: RegExp;
  /** '' is the scheme's default port, '*' any port. */
  port: string;
  path: RegExp;
}

const escapeRegExp = (c: string) => c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

function globRegExp(glob: string, segment: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '\\' && i + 1 < glob.length) source += escapeRegExp(glob[++i]!);
    else if (c === '*' && glob[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (c === '*') source += segment;
    else if (c === '?') source += '[^./]';
    else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`);
}

/** A pattern this module cannot read matches nothing: the list fails closed. */
function parsePattern(pattern: string): UriPattern | null {
  const parts = /^([a-z][a-z0-9+.-]*):\/\/([^/?#@\\]+)(\/[^?#]*)?$/i.exec(pattern.trim());
  if (!parts) return null;
  const [, scheme, authority, path] = parts as unknown as [string, string, string, string | undefined];
  const portMatch = /^(.*?)(?::(\d{1,5}|\*))?$/.exec(authority)!;
  const hostGlob = portMatch[1]!.toLowerCase();
  if (!hostGlob) return null;
  const protocol = `${scheme.toLowerCase()}:`;
  if (refusedSchemes.has(protocol)) return null;
  // Literal labels in their ASCII (punycode) form, as the WHATWG parser gives a target's hostname.
  const asciiHost = hostGlob
    .split('.')
    .map((label) => (/^[\x00-\x7f]*$/.test(label) || /[*?\\]/.test(label) ? label : domainToASCII(label) || label))
    .join('.');
  // A scheme's default port written out (https://a.example.com:443) is the port a target shows as ''.
  const port = portMatch[2] === undefined ? '' : portMatch[2] === '*' ? '*' : new URL(`${protocol}//x:${portMatch[2]}`).port;
  return { protocol, host: globRegExp(asciiHost, '[^./]+'), port, path: globRegExp(path || '/', '[^./]*') };
}

const compiled = new WeakMap<readonly string[], UriPattern[]>();
function patternsOf(list: readonly string[]): UriPattern[] {
  let patterns = compiled.get(list);
  if (!patterns) {
    patterns = list.flatMap((entry) => {
      try {
        return parsePattern(entry) ?? [];
      } catch {
        return [];
      }
    });
    compiled.set(list, patterns);
  }
  return patterns;
}

function onSite(target: URL, site: URL): boolean {
  if (target.protocol !== site.protocol) return false;
  if (target.host === site.host) return true;
  return loopback.has(site.hostname) && loopback.has(target.hostname);
}

const pathOf = (url: URL) => url.pathname || '/';

/** The target to redirect to, parsed and without a fragment, or null when it is not allowed. */
export function redirectTarget(policy: RedirectPolicy, raw: string | null | undefined): URL | null {
  if (!raw || raw.length > maxLength || unsafeCharacter.test(raw)) return null;
  let target: URL;
  try {
    target = new URL(raw);
  } catch {
    return null;
  }
  if (target.username || target.password || refusedSchemes.has(target.protocol)) return null;
  target.hash = '';
  if (onSite(target, new URL(policy.siteUrl))) return target;
  const allowed = patternsOf(policy.uriAllowList).some(
    (p) =>
      p.protocol === target.protocol &&
      (p.port === '*' || p.port === target.port) &&
      p.host.test(target.hostname) &&
      p.path.test(pathOf(target)),
  );
  return allowed ? target : null;
}

