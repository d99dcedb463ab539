import { assertThat } from '../errors.js';
import { isUuid } from '../uuid.js';

/** Relay node id options for a table keyed by a UUID: a malformed id is bad_request, not a database error. */
export const uuidNodeId = {
  field: 'id',
  parse: (id: string) => {
    assertThat(isUuid(id), 'bad_request', 'Invalid global ID.');
    return id;
  },
} as const;
