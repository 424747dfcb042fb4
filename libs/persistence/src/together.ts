/** One SQL statement and its positional parameters (`$1`, `$2`, …). */
export interface Statement {
  sql: string;
  params: unknown[];
}

/**
 * Several writes sent as one statement, so a flush of several tables is one round trip: each write becomes a
 * data-modifying CTE (`s0`, `s1`, …) with its parameters renumbered after those before it, and `main` reads what
 * the caller needs back (from `s0`, say). The writes must touch different rows (PostgreSQL runs them on one
 * snapshot) and hold no `$` but their placeholders. Without `main`, a lone write is sent as it is.
 */
export function together(parts: Statement[], main?: string): Statement {
  if (parts.length === 1 && main === undefined) return parts[0];
  const params: unknown[] = [];
  const ctes = parts.map((p, i) => {
    const offset = params.length;
    params.push(...p.params);
    return `s${i} AS (${p.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`)})`;
  });
  return { sql: `WITH ${ctes.join(',\n')}\n${main ?? 'SELECT 1'}`, params };
}
