import type { UserPage } from '../identity/gotrue/client.js';
import type { UserSync } from './user-sync.js';

export interface BackfillProgress {
  synced: number;
  total: number;
  page: number;
}

/**
 * Mirrors every GoTrue user by paging the admin users API (for users who
 * signed up before idgraph was in front, or while the sync webhook was off).
 * Each user goes through the sync webhook's idempotent path, so a rerun or an
 * interrupted run repeats no event.
 */
export async function backfillUsers({
  listUsers,
  sync,
  perPage = 200,
  onProgress = () => {},
}: {
  listUsers: (page: number, perPage: number) => Promise<UserPage>;
  sync: UserSync;
  perPage?: number;
  onProgress?: (progress: BackfillProgress) => void;
}): Promise<BackfillProgress> {
  const progress: BackfillProgress = { synced: 0, total: 0, page: 1 };
  for (let page: number | null = 1; page !== null; ) {
    const answer = await listUsers(page, perPage);
    for (const user of answer.users) {
      await sync.sync({ user }, { requestId: `backfill-page-${page}` });
      progress.synced += 1;
    }
    progress.total = Math.max(answer.total, progress.synced);
    progress.page = page;
    onProgress({ ...progress });
    // The Link header names the next page; an empty page ends a listing that shrank meanwhile.
    page = answer.users.length > 0 ? answer.nextPage : null;
  }
  return progress;
}
