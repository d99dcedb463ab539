import { Resolver } from 'node:dns/promises';

export type DomainMethod = 'dns_txt' | 'html_file';

export interface DomainChallenge {
  domain: string;
  method: DomainMethod;
  challenge: string;
}

/**
 * The port through which domain ownership is checked (DNS and HTTP are
 * injected so tests control them). Resolves whether the challenge is
 * published; rejects when the check itself could not be made (DNS SERVFAIL or
 * timeout, the web server unreachable or failing).
 */
export interface DomainVerifier {
  isPublished(target: DomainChallenge): Promise<boolean>;
}

/** Where the owner publishes the challenge: a TXT record, or a file served over HTTPS. */
export const challengeRecordName = (domain: string) => `_idgraph-challenge.${domain}`;
export const challengeFileUrl = (domain: string) => `https://${domain}/.well-known/idgraph-challenge.txt`;

export interface DomainInstructions {
  dnsRecordName: string | null;
  dnsRecordValue: string | null;
  fileUrl: string | null;
  fileContent: string | null;
}

/** What to publish for a claim: the pair of its method, the other pair null. */
export function domainInstructions({ domain, method, challenge }: DomainChallenge): DomainInstructions {
  return method === 'dns_txt'
    ? { dnsRecordName: challengeRecordName(domain), dnsRecordValue: challenge, fileUrl: null, fileContent: null }
    : { dnsRecordName: null, dnsRecordValue: null, fileUrl: challengeFileUrl(domain), fileContent: challenge };
}

// Answers that mean "no such record" rather than "could not ask".
const DNS_ABSENT = new Set(['ENOTFOUND', 'ENODATA']);

export interface DomainVerifierOptions {
  resolveTxt?: (name: string) => Promise<string[][]>;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** The challenge file is 43 characters: anything much larger is not it. */
  maxFileBytes?: number;
}

/** Reads at most `maxBytes` of a body; null when it is larger. */
async function readCapped(body: ReadableStream<Uint8Array>, maxBytes: number): Promise<string | null> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The production verifier: node:dns TXT lookups for dns_txt; for html_file an
 * HTTPS GET with a short timeout, a size cap and no redirects (the file must be
 * served by the domain itself, and a redirect could point the server anywhere).
 */
export function createDomainVerifier(options: DomainVerifierOptions = {}): DomainVerifier {
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxFileBytes = options.maxFileBytes ?? 1024;
  const resolveTxt =
    options.resolveTxt ??
    ((name: string) => {
      const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
      return resolver.resolveTxt(name);
    });
  const fetchFile = options.fetch ?? fetch;

  async function txtPublished(domain: string, challenge: string) {
    let records: string[][];
    try {
      records = await resolveTxt(challengeRecordName(domain));
    } catch (error) {
      if (DNS_ABSENT.has((error as NodeJS.ErrnoException).code ?? '')) return false;
      throw error;
    }
    // A TXT record may arrive in 255-byte chunks; its value is their concatenation.
    return records.some((chunks) => chunks.join('').trim() === challenge);
  }

  async function filePublished(domain: string, challenge: string) {
    const response = await fetchFile(challengeFileUrl(domain), {
      redirect: 'manual',
      headers: { accept: 'text/plain' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status >= 500) {
      await response.body?.cancel();
      throw new Error(`challenge file: HTTP ${response.status}`);
    }
    if (response.status !== 200 || !response.body) {
      await response.body?.cancel();
      return false;
    }
    const text = await readCapped(response.body, maxFileBytes);
    return text !== null && text.trim() === challenge;
  }

  return {
    isPublished: ({ domain, method, challenge }) =>
      method === 'dns_txt' ? txtPublished(domain, challenge) : filePublished(domain, challenge),
  };
}
