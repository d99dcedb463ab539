import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { fields, parseInput } from '../../src/services/input.js';

describe('parseInput', () => {
  const schema = z.object({ name: fields.displayName, slug: fields.slug.optional(), email: fields.email.optional() });

  it('returns the parsed input, trimmed and normalised', () => {
    expect(parseInput(schema, { name: '  Acme  ', slug: 'acme', email: 'Ann@Example.COM' })).toEqual({ name: 'Acme', slug: 'acme', email: 'ann@example.com' });
  });

  it('refuses with bad_request naming the field', () => {
    for (const [input, field] of [
      [{ name: '' }, 'name'],
      [{ name: 'x'.repeat(201) }, 'name'],
      [{ name: 'Acme', slug: 'Not A Slug' }, 'slug'],
      [{ name: 'Acme', email: 'nope' }, 'email'],
    ] as const) {
      expect(() => parseInput(schema, input)).toThrow(expect.objectContaining({ code: 'bad_request', extensions: { field } }));
    }
  });

  it('domains: lowercase names with a dot and a TLD', () => {
    expect(fields.domain.parse(' Example.COM ')).toBe('example.com');
    for (const bad of ['localhost', 'http://example.com', 'exa mple.com', '-a.com', 'a..com']) expect(fields.domain.safeParse(bad).success, bad).toBe(false);
  });
});

describe('parseInput and GraphQL nulls', () => {
  it('reads a top-level null as not given, so optional fields stay optional', () => {
    const schema = z.object({ name: fields.displayName, slug: fields.slug.optional() });
    expect(parseInput(schema, { name: 'Acme', slug: null })).toEqual({ name: 'Acme' });
    expect(() => parseInput(schema, { name: null })).toThrow(expect.objectContaining({ code: 'bad_request', extensions: { field: 'name' } }));
  });
});
