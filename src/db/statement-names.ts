import { createHash } from 'node:crypto';

/**
 * Names for prepared statements (@prisma/adapter-pg's statementNameGenerator):
 * a named statement is parsed and planned once per connection, then reused,
 * where an unnamed one is planned on every call. The first `limit` distinct SQL
 * texts get a name derived from their text; later ones run unnamed, so the
 * statements each connection keeps stay bounded.
 */
export function createStatementNamer(limit: number): ((query: { sql: string }) => string) | undefined {
  if (limit <= 0) return undefined;
  const names = new Map<string, string>();
  return ({ sql }) => {
    let name = names.get(sql);
    if (name === undefined && names.size < limit) {
      name = `idg_${createHash('sha256').update(sql).digest('hex').slice(0, 32)}`;
      names.set(sql, name);
    }
    // pg sends an unnamed statement when the name is undefined.
    return name as string;
  };
}
