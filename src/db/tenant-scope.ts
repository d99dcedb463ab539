import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The row-level-security scope of the code running now (see SECURITY.md, "Row-level security").
 * GraphQL operations run in their viewer's scope; work idgraph does for itself runs in 'system'.
 * The database adapter turns it into the transaction-local setting `idgraph.scope` and the role
 * `idgraph_app`, so a query that lost its tenant filter still sees only the scope's tenants.
 */
export type TenantScope = 'system' | 'none' | `user:${string}` | `key:${string}:${string}`;

/** A fixed scope, or one read when each statement is sent (a caller who signs in mid-operation gains theirs). */
export type ScopeSource = TenantScope | (() => TenantScope);

const storage = new AsyncLocalStorage<ScopeSource>();

/** The scope in force; 'system' outside any scoped call (start-up, REST engine routes, cleanup). */
export function currentTenantScope(): TenantScope {
  const source = storage.getStore() ?? 'system';
  return typeof source === 'function' ? source() : source;
}

/** Runs `fn` in `scope`. A Prisma query is lazy: await it inside `fn`, or it runs in the scope of whoever awaits it. */
export function runInTenantScope<T>(scope: ScopeSource, fn: () => Promise<T>): Promise<T> {
  return storage.run(scope, async () => await fn());
}

/** For work a service does for idgraph itself on a caller's request: sign-in, provisioning, creating a tenant. */
export function asSystem<T>(fn: () => Promise<T>): Promise<T> {
  return runInTenantScope('system', fn);
}

/**
 * The scope of a caller: an API key acts in its tenant only; a user in their tenants, and so does someone
 * who proved their credentials in this operation (sign-in, sign-up); anonymous callers see no tenant rows.
 */
export function scopeOfCaller(caller: { viewer: { userId: string; apiKey?: { tenantId: string } | null } | null; signedInUserId?: string }): TenantScope {
  const { viewer } = caller;
  if (viewer?.apiKey) return `key:${viewer.apiKey.tenantId}:${viewer.userId}`;
  if (viewer) return `user:${viewer.userId}`;
  return caller.signedInUserId ? `user:${caller.signedInUserId}` : 'none';
}

/**
 * Runs methods of a service in the 'system' scope (all of them unless `methods` names some): for
 * operations that work across tenants by design, such as the credential flows, which act for a user
 * who is not signed in yet, or accepting an invitation to a tenant the user is not in yet.
 */
export function systemScoped<S extends object>(service: S, methods?: ReadonlyArray<keyof S>): S {
  return new Proxy(service, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || (methods && !methods.includes(prop as keyof S))) return value;
      // Awaited inside: a Prisma query is lazy, and would otherwise run in the scope of whoever awaits it.
      return (...args: unknown[]) => asSystem(async () => await value.apply(target, args));
    },
  });
}
