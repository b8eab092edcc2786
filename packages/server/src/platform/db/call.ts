import type { Db, DbClaims } from "./types.ts";

/**
 * Runs one statement as the caller (so RLS and the SQL functions' role checks apply) and answers
 * the `result` column of its first row: the shape of a service that calls one SQL function.
 */
export async function callAsUser<T>(db: Db, claims: DbClaims, sql: string, params: unknown[]): Promise<T> {
  const { rows } = await db.queryAsUser<{ result: T }>(claims, sql, params);
  return rows[0]?.result as T;
}
