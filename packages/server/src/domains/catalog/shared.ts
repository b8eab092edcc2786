import type { Db, DbClaims, Queryable } from "../../platform/db/types.ts";

const TIMESTAMP_KEYS = new Set([
  "created_at",
  "updated_at",
  "deleted_at",
  "published_at",
  "publish_at",
  "started_at",
  "finished_at",
]);

/** JSON built by Postgres with timestamps as ISO 8601 UTC (`...Z`), whatever the session time zone. */
export function normalizeJson<T>(value: T): T {
  if (Array.isArray(value)) return value.map(normalizeJson) as T;
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Date) return value.toISOString() as T;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    out[key] =
      TIMESTAMP_KEYS.has(key) && (typeof field === "string" || field instanceof Date)
        ? new Date(field).toISOString()
        : normalizeJson(field);
  }
  return out as T;
}

/** Runs one catalog SQL function in an open transaction and returns its single JSON result, normalised. */
export async function callJsonIn<T>(tx: Queryable, sql: string, params: unknown[]): Promise<T> {
  const { rows } = await tx.query<{ result: T }>(sql, params);
  return normalizeJson(rows[0]?.result as T);
}

/** Runs one catalog SQL function as the caller and returns its single JSON result, normalised. */
export function callJson<T>(db: Db, claims: DbClaims, sql: string, params: unknown[]): Promise<T> {
  return db.asUser(claims, (tx) => callJsonIn<T>(tx, sql, params));
}
