import type { Viewer } from '../auth/viewer.js';
import { AppError } from '../errors.js';
import type { EventMetadata } from '../events/store.js';
import type { RequestMeta } from '../identity/types.js';

/** Who is asking, as the transport saw it. */
export interface Caller {
  viewer: Viewer | null;
  accessToken: string | null;
  meta: RequestMeta;
  /** Set when this request proved credentials (sign-up, sign-in, refresh): that user may read their own payload. */
  signedInUserId?: string;
}

/** The viewer, or unauthenticated. */
export function requireViewer(caller: Caller): Viewer {
  if (!caller.viewer) throw new AppError('unauthenticated');
  return caller.viewer;
}

/** Who did it, from where: the metadata every event of a caller's change carries. */
export function eventMetadata(caller: Caller): EventMetadata {
  return {
    actorId: caller.viewer?.userId ?? null,
    ...(caller.viewer?.apiKey ? { apiKeyId: caller.viewer.apiKey.id } : {}),
    requestId: caller.meta.requestId ?? null,
    ip: caller.meta.ip ?? null,
  };
}
