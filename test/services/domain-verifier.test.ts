import { describe, expect, it } from 'vitest';
import { createDomainVerifier } from '../../src/services/domain-verifier.js';

// The production verifier's decisions, with node:dns and fetch replaced by fakes
// (no DNS or internet here): what counts as published, absent, or a failed check.

const challenge = 'c'.repeat(43);
const dnsError = (code: string) => Object.assign(new Error(`queryTxt ${code} _idgraph-challenge.example.com`), { code });

describe('createDomainVerifier: dns_txt', () => {
  const txt = (answer: () => Promise<string[][]>) => {
    const asked: string[] = [];
    const verifier = createDomainVerifier({ resolveTxt: (name) => (asked.push(name), answer()) });
    return { asked, isPublished: () => verifier.isPublished({ domain: 'example.com', method: 'dns_txt', challenge }) };
  };

  it('asks _idgraph-challenge.<domain> and matches one record, its chunks joined', async () => {
    const check = txt(async () => [['v=spf1 -all'], [challenge.slice(0, 20), challenge.slice(20)]]);
    expect(await check.isPublished()).toBe(true);
    expect(check.asked).toEqual(['_idgraph-challenge.example.com']);
    expect(await txt(async () => [['other']]).isPublished()).toBe(false);
  });

  it('no such name or no TXT data: not published', async () => {
    expect(await txt(() => Promise.reject(dnsError('ENOTFOUND'))).isPublished()).toBe(false);
    expect(await txt(() => Promise.reject(dnsError('ENODATA'))).isPublished()).toBe(false);
  });

  it('SERVFAIL, timeout or refusal: the check fails', async () => {
    for (const code of ['ESERVFAIL', 'ETIMEOUT', 'ECONNREFUSED', 'EREFUSED']) {
      await expect(txt(() => Promise.reject(dnsError(code))).isPublished(), code).rejects.toMatchObject({ code });
    }
  });
});

describe('createDomainVerifier: html_file', () => {
  const file = (respond: () => Promise<Response>, maxFileBytes?: number) => {
    const asked: Array<{ url: string; init?: RequestInit }> = [];
    const verifier = createDomainVerifier({
      maxFileBytes,
      fetch: (async (url: string, init?: RequestInit) => (asked.push({ url, init }), respond())) as typeof fetch,
    });
    return { asked, isPublished: () => verifier.isPublished({ domain: 'example.com', method: 'html_file', challenge }) };
  };

  it('GETs https://<domain>/.well-known/idgraph-challenge.txt without following redirects, with a timeout', async () => {
    const check = file(async () => new Response(`${challenge}\n`));
    expect(await check.isPublished()).toBe(true);
    expect(check.asked[0]!.url).toBe('https://example.com/.well-known/idgraph-challenge.txt');
    expect(check.asked[0]!.init).toMatchObject({ redirect: 'manual' });
    expect(check.asked[0]!.init?.signal).toBeInstanceOf(AbortSignal);
  });

  it('another body, a 404 or a redirect: not published', async () => {
    expect(await file(async () => new Response('something else')).isPublished()).toBe(false);
    expect(await file(async () => new Response('no', { status: 404 })).isPublished()).toBe(false);
    expect(await file(async () => new Response(null, { status: 301, headers: { location: 'https://elsewhere.example/' } })).isPublished()).toBe(false);
  });

  it('a body over the size cap is not read to the end and does not count', async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        controller.enqueue(new TextEncoder().encode(challenge));
      },
    });
    expect(await file(async () => new Response(endless), 100).isPublished()).toBe(false);
    expect(pulled).toBeLessThan(10);
  });

  it('a server error or a network failure: the check fails', async () => {
    await expect(file(async () => new Response('down', { status: 503 })).isPublished()).rejects.toThrow('HTTP 503');
    await expect(file(() => Promise.reject(new TypeError('fetch failed'))).isPublished()).rejects.toThrow('fetch failed');
  });
});
