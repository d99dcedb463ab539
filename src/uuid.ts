/** A canonical UUID (any version): ids from clients are checked before they reach SQL. */
export const isUuid = (value: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);

/**
 * The canonical (lower-case, hyphenated) form of a UUID written any way GoTrue accepts
 * (hyphenated, 32 hex digits, {braced}, urn:uuid:, any case), or null. PostgreSQL reads
 * still more spellings as the same uuid, so an id is canonicalised before it keys a
 * limit or reaches SQL: otherwise each spelling would open its own bucket.
 */
export function canonicalUuid(value: string): string | null {
  const bare = /^(?:urn:uuid:)?([0-9a-f-]{32,36})$|^\{([0-9a-f-]{36})\}$/i.exec(value);
  const text = bare?.[1] ?? bare?.[2];
  if (!text) return null;
  const hex = text.length === 32 ? text : isUuid(text) ? text.replace(/-/g, '') : '';
  if (!/^[0-9a-f]{32}$/i.test(hex)) return null;
  const lower = hex.toLowerCase();
  return `${lower.slice(0, 8)}-${lower.slice(8, 12)}-${lower.slice(12, 16)}-${lower.slice(16, 20)}-${lower.slice(20)}`;
}
