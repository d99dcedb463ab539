import { z } from 'zod';
import { canonicalEmail } from '../identifiers.js';
import { AppError } from '../errors.js';

/**
 * Validates a mutation's input before anything is read or written: the first
 * problem becomes bad_request naming the field (extensions.field). A top-level
 * null is GraphQL's "not given" and reads as absent.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const given =
    input !== null && typeof input === 'object' && !Array.isArray(input)
      ? Object.fromEntries(Object.entries(input).filter(([, value]) => value !== null))
      : input;
  const result = schema.safeParse(given);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.map(String).join('.') || 'input';
  throw new AppError('bad_request', `${field}: ${issue.message}`, { field });
}

/**
 * What any client may send, whatever the field (field rules may be tighter):
 * one string at most 16 KiB; a JSON value (user metadata, tenant config) at
 * most 10 levels deep and 16 KiB serialized.
 */
export const inputBounds = { stringLength: 16 * 1024, jsonDepth: 10, jsonBytes: 16 * 1024 } as const;

// PostgreSQL refuses NUL in text and JSON, the other C0 controls and DEL have no place in input text,
// and an unpaired surrogate cannot be encoded as UTF-8 (it would be stored as U+FFFD, silently changed).
const controlInText = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const controlInLine = /[\u0000-\u001f\u007f]/;
const unpairedSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The input rule for strings: why `value` cannot be taken as text, or
 * undefined when it can. Tab and line breaks only where the field is free
 * text (`multiline`); names, emails and identifiers refuse every control.
 */
export function textProblem(value: string, { multiline = false, maxLength = inputBounds.stringLength as number } = {}): string | undefined {
  if (value.length > maxLength) return `must be at most ${maxLength} characters`;
  if ((multiline ? controlInText : controlInLine).test(value)) return 'must not contain control characters';
  if (unpairedSurrogate.test(value)) return 'must not contain unpaired surrogates';
  return undefined;
}

export interface InputProblem {
  /** Where the problem is, as a dotted path from the value's root ('' for the root). */
  path: string;
  message: string;
}

/**
 * The first problem in a value a client sent as JSON: a string or an object
 * key that breaks the text rule (free text: tab and line breaks allowed), or
 * objects and arrays nested deeper than `maxDepth`. Iterative, because a
 * hostile value can be nested past the stack of any recursive reader.
 */
export function jsonProblem(value: unknown, maxDepth: number = inputBounds.jsonDepth): InputProblem | undefined {
  const pending: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: '', depth: 0 }];
  // Keys are the client's: a long one is shortened where the path is shown back.
  const at = (path: string, key: string | number) => {
    const name = typeof key === 'string' && key.length > 40 ? `${key.slice(0, 40)}…` : String(key);
    return path ? `${path}.${name}` : name;
  };
  while (pending.length > 0) {
    const { value: current, path, depth } = pending.pop()!;
    if (typeof current === 'string') {
      const message = textProblem(current, { multiline: true });
      if (message) return { path, message };
    } else if (current !== null && typeof current === 'object') {
      if (depth >= maxDepth) return { path, message: `must be nested at most ${maxDepth} levels deep` };
      const entries = Array.isArray(current) ? current.entries() : Object.entries(current);
      for (const [key, item] of entries) {
        if (typeof key === 'string') {
          const message = textProblem(key);
          if (message) return { path: at(path, key), message: `key ${message}` };
        }
        pending.push({ value: item, path: at(path, key), depth: depth + 1 });
      }
    }
  }
  return undefined;
}

/** Why a JSON value (user metadata, tenant config) is refused: the input rule, its depth, then its serialized size. */
export function boundedJsonProblem(value: unknown): InputProblem | undefined {
  const problem = jsonProblem(value, inputBounds.jsonDepth);
  if (problem) return problem;
  const bytes = Buffer.byteLength(JSON.stringify(value) ?? '');
  return bytes > inputBounds.jsonBytes ? { path: '', message: `must be at most ${inputBounds.jsonBytes} bytes as JSON` } : undefined;
}

/** A string that follows the input rule (single line unless `multiline`), trimmed, within `max` characters. */
const text = (max: number, { multiline = false } = {}) =>
  z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      const message = textProblem(value, { multiline, maxLength: max });
      if (message) ctx.addIssue({ code: 'custom', message });
    });

/** Field shapes shared by the realm layer's inputs. */
export const fields = {
  text,
  uuid: z.uuid({ message: 'must be an id' }),
  displayName: text(200).pipe(z.string().min(1, 'must not be empty')),
  slug: z
    .string()
    .trim()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes, at most 63 characters'),
  email: z.email('must be an email address').max(320).transform(canonicalEmail),
  roleName: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'must start with a letter: lowercase letters, digits, _ and -, at most 63'),
  permission: z.string().regex(/^[a-z][a-z0-9_.-]{0,62}(:[a-z0-9_.*-]{1,63})?$/, 'must look like resource:action'),
  domain: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a domain name such as example.com'),
};
