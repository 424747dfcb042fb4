/**
 * Statements that make a ledger table append-only: a row trigger refuses UPDATE and DELETE, so a correction is a
 * new entry (a reversal), never an edit, whatever code or hand-typed SQL tries. TRUNCATE and DROP stay possible
 * for an operator resetting a whole environment. The function lives in the service's schema (search_path).
 */
export function appendOnly(table: string): string[] {
  if (!/^[a-z_][a-z0-9_]*$/.test(table)) throw new Error(`not a plain table name: ${table}`);
  return [
    `CREATE OR REPLACE FUNCTION refuse_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
     BEGIN
       RAISE EXCEPTION '% is append-only: % refused; record a new entry instead', TG_TABLE_NAME, TG_OP
         USING ERRCODE = 'insufficient_privilege';
     END
     $fn$`,
    `CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table}
       FOR EACH ROW EXECUTE FUNCTION refuse_ledger_change()`,
  ];
}

/** Undoes `appendOnly` for `table` (the shared function stays: another ledger of the schema may use it). */
export function appendOnlyDown(table: string): string[] {
  return [`DROP TRIGGER IF EXISTS ${table}_append_only ON ${table}`];
}
