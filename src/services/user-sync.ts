import { AppError } from '../errors.js';
import type { User as ProviderUser } from '../identity/types.js';
import type { UserMirror } from './user-mirror.js';

/**
 * A user as GoTrue tells idgraph about them: GoTrue's User JSON under `user`
 * (an AFTER_USER_CREATED hook, or a script), or an auth.users row under
 * `record` (a Supabase database webhook: {type, table, record}).
 */
export interface UserSyncPayload {
  type?: string;
  user?: Partial<ProviderUser>;
  record?: { id?: unknown; email?: unknown; phone?: unknown; raw_user_meta_data?: unknown; raw_app_meta_data?: unknown };
}

const str = (value: unknown) => (typeof value === 'string' ? value : '');
const obj = (value: unknown) => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {});

function userOf(payload: UserSyncPayload): ProviderUser {
  const source = payload.user
    ? { id: payload.user.id, email: payload.user.email, phone: payload.user.phone, meta: payload.user.user_metadata, app: payload.user.app_metadata }
    : { id: payload.record?.id, email: payload.record?.email, phone: payload.record?.phone, meta: payload.record?.raw_user_meta_data, app: payload.record?.raw_app_meta_data };
  const id = str(source.id);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw new AppError('bad_request', 'The payload carries no user id.');
  return { id, email: str(source.email), phone: str(source.phone), user_metadata: obj(source.meta), app_metadata: obj(source.app) } as ProviderUser;
}

/**
 * Mirrors users created or changed at GoTrue directly (not through idgraph).
 * Deliveries may repeat: the upsert is idempotent and user.signed_up is
 * appended once, when the mirror row is created.
 */
export function createUserSync({ mirror }: { mirror: UserMirror }) {
  return {
    async sync(payload: UserSyncPayload, meta: { requestId?: string | null }): Promise<{ userId: string }> {
      const user = userOf(payload);
      await mirror.record(user, payload.type === 'UPDATE' ? 'user.updated' : 'user.signed_up', { actorId: null, requestId: meta.requestId ?? null });
      return { userId: user.id };
    },
  };
}

export type UserSync = ReturnType<typeof createUserSync>;
