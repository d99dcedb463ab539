import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { boundedJsonProblem, fields, jsonProblem, parseInput, textProblem } from '../../src/services/input.js';

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

describe('the input rule for strings and JSON values', () => {
  it('names refuse every control character; free text keeps tab and line breaks; no text takes NUL, DEL or an unpaired surrogate', () => {
    for (const bad of ['a\u0000', 'a\tb', 'a\nb', 'a\u001f', 'a\u007f', 'a\ud800', '\udc00a']) expect(textProblem(bad), JSON.stringify(bad)).toBeDefined();
    for (const bad of ['a\u0000', 'a\u000b', 'a\u007f', 'a\ud800']) expect(textProblem(bad, { multiline: true }), JSON.stringify(bad)).toBeDefined();
    for (const fine of ['a\tb\r\nc', 'שלום\u200f', '😀']) expect(textProblem(fine, { multiline: true })).toBeUndefined();
    expect(textProblem('x'.repeat(16 * 1024))).toBeUndefined();
    expect(textProblem('x'.repeat(16 * 1024 + 1))).toMatch(/at most/);
    expect(fields.displayName.safeParse('Acme\u0000').success).toBe(false);
  });

  it('JSON: strings and keys by the rule, at most 10 levels, at most 16 KiB; the walk survives any depth', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(jsonProblem(deep)).toMatchObject({ message: /at most 10 levels/ });
    let ten: unknown = 1;
    for (let i = 0; i < 10; i++) ten = { a: ten };
    expect(boundedJsonProblem(ten)).toBeUndefined();
    expect(boundedJsonProblem({ a: ten })).toMatchObject({ path: 'a.a.a.a.a.a.a.a.a.a' });
    expect(boundedJsonProblem({ list: ['ok', 'a\u0000'] })).toMatchObject({ path: 'list.1' });
    expect(boundedJsonProblem({ ['k\u0000']: 1 })).toMatchObject({ message: /key must not/ });
    expect(boundedJsonProblem({ big: 'é'.repeat(9000) })).toMatchObject({ message: /16384 bytes/ });
  });
});
