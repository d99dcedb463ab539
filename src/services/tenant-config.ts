import { z } from 'zod';
import { AppError } from '../errors.js';

/**
 * The keys a tenant's config may hold. Anything else is refused by name, so a
 * typo never silently becomes configuration.
 */
export const tenantConfigSchema = z
  .object({
    locale: z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'must be a BCP 47 language tag such as en or pt-BR'),
    logoUrl: z.url({ protocol: /^https$/, message: 'must be an https URL' }).max(2048),
    primaryColor: z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a #rrggbb colour'),
    supportEmail: z.email('must be an email address').max(320),
    mfaRequired: z.boolean(),
    sessionTimeoutMinutes: z.number().int().min(5).max(43_200),
  })
  .partial()
  .strict();

export type TenantConfig = z.infer<typeof tenantConfigSchema>;

/** Merges a change into the stored config: null removes a key. bad_request names an unknown or invalid key. */
export function mergeTenantConfig(current: unknown, change: unknown): TenantConfig {
  if (change === null || typeof change !== 'object' || Array.isArray(change)) {
    throw new AppError('bad_request', 'config must be an object.', { field: 'config' });
  }
  const allowed = Object.keys(tenantConfigSchema.shape);
  const unknown = Object.keys(change).find((key) => !allowed.includes(key));
  if (unknown) {
    throw new AppError('bad_request', `config.${unknown} is not a tenant setting (allowed: ${allowed.join(', ')}).`, { field: `config.${unknown}` });
  }
  const merged: Record<string, unknown> = { ...(current as Record<string, unknown>) };
  for (const [key, value] of Object.entries(change)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  const result = tenantConfigSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new AppError('bad_request', `config.${issue.path.join('.')}: ${issue.message}`, { field: `config.${issue.path.join('.')}` });
  }
  return result.data;
}
