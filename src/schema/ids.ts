import { assertThat } from '../errors.js';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Relay node id options for a table keyed by a UUID: a malformed id is bad_request, not a database error. */
export const uuidNodeId = {
  field: 'id',
  parse: (id: string) => {
    assertThat(uuid.test(id), 'bad_request', 'Invalid global ID.');
    return id;
  },
} as const;
