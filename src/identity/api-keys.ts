import { constantTimeEqual } from '../crypto.js';

export interface ApiKeys {
  anon: string;
  serviceRole: string;
}

/** True when `value` is the anon or the service-role key (the gateway's apikey check); both are compared, in constant time. */
export function isApiKey(value: string | null, keys: ApiKeys): boolean {
  if (!value) return false;
  const anon = constantTimeEqual(value, keys.anon);
  const service = constantTimeEqual(value, keys.serviceRole);
  return anon || service;
}
