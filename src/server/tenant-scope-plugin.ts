import type { Plugin } from 'graphql-yoga';
import { runInTenantScope, scopeOfCaller } from '../db/tenant-scope.js';
import type { GraphQLContext } from '../schema/context.js';

/**
 * Executes every operation in its viewer's row-level-security scope, so the database itself
 * refuses rows of tenants the viewer may not see, whatever filter a resolver forgot.
 */
export function useTenantScope(): Plugin<GraphQLContext> {
  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn((args) => {
        const { caller } = args.contextValue as GraphQLContext;
        return runInTenantScope(() => scopeOfCaller(caller), async () => executeFn(args));
      });
    },
    onSubscribe({ subscribeFn, setSubscribeFn }) {
      setSubscribeFn((args) => {
        const { caller } = args.contextValue as GraphQLContext;
        return runInTenantScope(() => scopeOfCaller(caller), async () => subscribeFn(args));
      });
    },
  };
}
