/**
 * The one spelling of an email address or phone number that lookups, uniqueness and
 * rate limits all use. A limiter keyed on anything else can be walked around with a
 * variant the lookup treats as the same account (" Bob@Example.com", fullwidth letters).
 * These only normalise; validity is the caller's check.
 */

/** Unicode NFKC (fullwidth and compatibility forms fold to ASCII), trimmed, lower case. */
export const canonicalEmail = (raw: string): string => raw.normalize('NFKC').trim().toLowerCase();

/**
 * E.164 digits as GoTrue stores them: "+1 (555) 123-4567" → "15551234567". Spaces,
 * dashes and parentheses are layout, and the leading + is implied.
 */
export const canonicalPhone = (raw: string): string => raw.trim().replace(/^\+/, '').replace(/[\s()-]/g, '');
