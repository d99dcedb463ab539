import type { AccessService } from './access.js';
import type { Caller } from './caller.js';
import type { RealmService } from './realms.js';

/** The default realm's id, once the caller is known to administer it (unauthenticated, else forbidden). */
export function realmAdminCheck(access: AccessService, realms: RealmService) {
  return async (caller: Caller): Promise<string> => {
    const realmId = await realms.defaultRealmId();
    await access.requireRealmAdmin(caller, realmId);
    return realmId;
  };
}
