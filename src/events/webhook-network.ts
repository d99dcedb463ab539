import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';

// Webhook URLs are chosen by tenants: without a guard, idgraph would POST to
// its own loopback, the cloud metadata service (169.254.169.254) or the
// private network it runs in on their behalf (SSRF). A name is checked where
// it is resolved for the connection, not only when the endpoint is saved, so
// a name re-pointed afterwards (DNS rebinding) is refused all the same.

/** One address a name resolves to. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

/** The DNS port: every address of a name (injected in tests). */
export type ResolveHost = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolveHost: ResolveHost = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

type Cidr = readonly [bigint, number];

const v4 = (text: string): bigint => text.split('.').reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n);

/** Special-purpose IPv4 blocks (IANA registry): none is a public internet host. */
const nonPublicV4: readonly Cidr[] = (
  [
    ['0.0.0.0', 8], // "this network", unspecified
    ['10.0.0.0', 8],
    ['100.64.0.0', 10], // carrier-grade NAT
    ['127.0.0.0', 8],
    ['169.254.0.0', 16], // link-local, cloud metadata
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.88.99.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 4], // multicast
    ['240.0.0.0', 4], // reserved, broadcast
  ] as const
).map(([base, bits]) => [v4(base), bits] as const);

function ipv6Value(text: string): bigint | null {
  let address = text.replace(/^\[|\]$/g, '').replace(/%.*$/, '').toLowerCase();
  // A trailing dotted quad (::ffff:127.0.0.1) is the last 32 bits.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (quad) {
    const n = v4(quad[1]!);
    address = address.slice(0, -quad[1]!.length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail, ...rest] = address.split('::');
  if (rest.length > 0) return null;
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return null;
  const groups = [...headGroups, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailGroups];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

const v6 = (text: string) => ipv6Value(text)!;

const nonPublicV6: readonly Cidr[] = (
  [
    ['::', 96], // unspecified, loopback, IPv4-compatible (deprecated)
    ['64:ff9b:1::', 48], // local-use NAT64
    ['100::', 64], // discard
    ['2001::', 23], // IETF protocol assignments (Teredo, benchmarking, ORCHID)
    ['2001:db8::', 32], // documentation
    ['3fff::', 20], // documentation
    ['5f00::', 16], // segment routing
    ['fc00::', 7], // unique local
    ['fe80::', 10], // link-local
    ['fec0::', 10], // site-local (deprecated)
    ['ff00::', 8], // multicast
  ] as const
).map(([base, bits]) => [v6(base), bits] as const);

const inBlock = (value: bigint, width: number, [base, bits]: Cidr) => value >> BigInt(width - bits) === base >> BigInt(width - bits);

/** IPv4 addresses carried inside IPv6 ones: mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96), 6to4 (2002::/16). */
function embeddedV4(value: bigint): bigint | null {
  if (value >> 32n === 0xffffn) return value & 0xffffffffn;
  if (value >> 32n === v6('64:ff9b::') >> 32n) return value & 0xffffffffn;
  if (value >> 112n === 0x2002n) return (value >> 80n) & 0xffffffffn;
  return null;
}

/**
 * Whether an address is a public internet host: not loopback, private
 * (RFC 1918, fc00::/7), link-local, carrier-grade NAT, multicast, unspecified,
 * reserved or documentation space, nor an IPv6 form carrying such an IPv4
 * address. Anything that does not parse is not public.
 */
export function isPublicAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare.replace(/%.*$/, ''));
  if (family === 4) {
    const value = v4(bare);
    return !nonPublicV4.some((block) => inBlock(value, 32, block));
  }
  if (family !== 6) return false;
  const value = ipv6Value(bare);
  if (value === null || nonPublicV6.some((block) => inBlock(value, 128, block))) return false;
  const inner = embeddedV4(value);
  return inner === null || !nonPublicV4.some((block) => inBlock(inner, 32, block));
}

/** The refusal of a connection to an address that is not public; `code` lets callers tell it from network errors. */
export class NonPublicAddressError extends Error {
  readonly code = 'WEBHOOK_ADDRESS_NOT_PUBLIC';
  constructor(readonly hostname: string, readonly addresses: readonly string[]) {
    super(`${hostname} resolves only to addresses that are not public (${addresses.join(', ')}); set WEBHOOK_ALLOW_PRIVATE_NETWORKS=true to allow them`);
    this.name = 'NonPublicAddressError';
  }
}

export interface GuardOptions {
  resolveHost: ResolveHost;
  allowPrivateNetworks: boolean;
}

/**
 * What a webhook URL's host resolves to and which of those addresses
 * deliveries may use. A literal IP resolves to itself.
 */
export async function resolveWebhookHost(hostname: string, { resolveHost, allowPrivateNetworks }: GuardOptions) {
  const bare = hostname.replace(/^\[|\]$/g, '');
  const addresses: ResolvedAddress[] = isIP(bare) ? [{ address: bare, family: isIP(bare) }] : await resolveHost(bare);
  const usable = allowPrivateNetworks ? addresses : addresses.filter((a) => isPublicAddress(a.address));
  return { addresses, usable };
}

/**
 * The lookup the delivery agent connects with: the host's addresses less
 * those that are not public (unless allowed); none left refuses the connection.
 */
function guardedLookup(options: GuardOptions): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    resolveWebhookHost(hostname, options).then(
      ({ addresses, usable }) => {
        const family = lookupOptions.family === 'IPv4' ? 4 : lookupOptions.family === 'IPv6' ? 6 : lookupOptions.family;
        const candidates = family ? usable.filter((a) => a.family === family) : usable;
        if (candidates.length === 0) {
          callback(new NonPublicAddressError(hostname, addresses.map((a) => a.address)), '', 0);
        } else if (lookupOptions.all) {
          callback(null, candidates);
        } else {
          callback(null, candidates[0]!.address, candidates[0]!.family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

/**
 * An undici Agent for webhook deliveries. Names go through the guarded
 * lookup; a literal IP (which needs no lookup) is checked before connecting;
 * and the socket's remote address is checked once connected, so whatever
 * route led there, only a public address (or any, when allowed) is talked to.
 */
export function createWebhookAgent(options: GuardOptions & { connectTimeoutMs: number }): Agent {
  const connector = buildConnector({ lookup: guardedLookup(options), timeout: options.connectTimeoutMs });
  const allowed = (address: string | undefined) => options.allowPrivateNetworks || (address !== undefined && isPublicAddress(address));
  return new Agent({
    // One delivery at a time per socket and no long-lived pools to tenants' servers.
    keepAliveTimeout: 1000,
    connect(connectOptions, callback) {
      const literal = connectOptions.hostname.replace(/^\[|\]$/g, '');
      if (isIP(literal) && !allowed(literal)) {
        callback(new NonPublicAddressError(literal, [literal]), null);
        return;
      }
      connector(connectOptions, (error, socket) => {
        if (error) {
          callback(error, null);
          return;
        }
        const remote = socket!.remoteAddress;
        if (!allowed(remote)) {
          socket!.destroy();
          callback(new NonPublicAddressError(connectOptions.hostname, [remote ?? 'unknown']), null);
          return;
        }
        callback(null, socket!);
      });
    },
  });
}
