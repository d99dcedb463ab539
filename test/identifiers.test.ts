import { describe, expect, it } from 'vitest';
import { canonicalEmail, canonicalPhone } from '../src/identifiers.js';
import { canonicalUuid } from '../src/uuid.js';

describe('canonical identifiers (what lookups and rate limits key on)', () => {
  it('emails: NFKC, trimmed, lower case', () => {
    for (const variant of ['bob@example.com', '   Bob@Example.COM\t', '\u3000ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ', '\u00a0BOB@example.com\n']) {
      expect(canonicalEmail(variant), JSON.stringify(variant)).toBe('bob@example.com');
    }
    expect(canonicalEmail(canonicalEmail(' Ｂob@x.io '))).toBe(canonicalEmail(' Ｂob@x.io '));
  });

  it('phones: E.164 digits without layout or the leading +', () => {
    for (const variant of ['+15551234567', ' +1 555 123 4567 ', '1-555-123-4567', '+1 (555) 123-4567', '15551234567']) {
      expect(canonicalPhone(variant), variant).toBe('15551234567');
    }
  });

  it('uuids: the spellings GoTrue accepts fold to one; other spellings are refused', () => {
    const id = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
    for (const variant of [id, id.toUpperCase(), id.replace(/-/g, ''), `{${id}}`, `urn:uuid:${id}`]) expect(canonicalUuid(variant), variant).toBe(id);
    for (const bad of ['', 'not-a-uuid', '-'.repeat(36), 'a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11', `${id}\n`, ` ${id}`, `{${id}`, `${id}0`]) {
      expect(canonicalUuid(bad), JSON.stringify(bad)).toBeNull();
    }
  });
});
