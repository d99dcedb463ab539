import { z } from 'zod';
import type { PrismaClient } from '../generated/prisma/client.js';
import { type OutboxDestinationHealth, outboxHealth, replayFailed } from '../events/outbox.js';
import type { EventStore } from '../events/store.js';
import type { AccessService } from './access.js';
import { type Caller, eventMetadata } from './caller.js';
import { fields, parseInput } from './input.js';
import type { RealmService } from './realms.js';
import { realmAdminCheck } from './realm-admin.js';

const replayInput = z.object({ destination: fields.text(200).pipe(z.string().min(1, 'must not be empty')) });

export interface OutboxServiceDeps {
  db: PrismaClient;
  events: EventStore;
  access: AccessService;
  realms: RealmService;
  clock: () => number;
}

/** The outbox for operators: what waits or failed per destination, and replaying what failed. Realm admins only. */
export function createOutboxService({ db, events, access, realms, clock }: OutboxServiceDeps) {
  const adminRealm = realmAdminCheck(access, realms);

  return {
    /** Pending and failed rows and the oldest pending row's age, per destination with any. */
    async health(caller: Caller): Promise<OutboxDestinationHealth[]> {
      await adminRealm(caller);
      return outboxHealth(db, new Date(clock()));
    },

    /** The same figures, for readiness details (no caller: operators' probes). */
    figures: (): Promise<OutboxDestinationHealth[]> => outboxHealth(db, new Date(clock())),

    /** Makes the destination's failed rows pending again with fresh attempts; resolves with how many. */
    async replayFailed(input: { destination: string }, caller: Caller): Promise<number> {
      const { destination } = parseInput(replayInput, input);
      const realmId = await adminRealm(caller);
      return db.$transaction(async (tx) => {
        const count = await replayFailed(tx, destination);
        if (count > 0) {
          await events.appendEvent(tx, {
            aggregateType: 'outbox',
            aggregateId: destination,
            type: 'outbox.failed_replayed',
            realmId,
            payload: { destination, count },
            metadata: eventMetadata(caller),
          });
        }
        return count;
      });
    },
  };
}

export type OutboxService = ReturnType<typeof createOutboxService>;
