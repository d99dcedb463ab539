import { z } from 'zod';
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

/** Field shapes shared by the realm layer's inputs. */
export const fields = {
  uuid: z.uuid({ message: 'must be an id' }),
  displayName: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  slug: z
    .string()
    .trim()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes, at most 63 characters'),
  email: z.email('must be an email address').max(320).transform((value) => value.toLowerCase()),
  roleName: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'must start with a letter: lowercase letters, digits, _ and -, at most 63'),
  permission: z.string().regex(/^[a-z][a-z0-9_.-]{0,62}(:[a-z0-9_.*-]{1,63})?$/, 'must look like resource:action'),
  domain: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a domain name such as example.com'),
};
