import type { Db, DbClaims, Queryable } from "./types.ts";

/**
 * Runs a creating request idempotently inside the caller's transaction `tx`: the key is claimed and
 * the response recorded in the same transaction as the write (see migration idempotent_requests).
 */
async function idempotent<T>(
  tx: Queryable,
  key: string | undefined,
  operation: string,
  request: unknown,
  work: () => Promise<T>,
): Promise<{ result: T; replayed: boolean }> {
  if (!key) return { result: await work(), replayed: false };
  const hash = await sha256(JSON.stringify(request));
  const { rows } = await tx.query<{ earlier: T | null }>("select private.idempotency_begin($1, $2, $3) as earlier", [
    key,
    operation,
    hash,
  ]);
  const earlier = rows[0]?.earlier;
  if (earlier !== null && earlier !== undefined) return { result: earlier, replayed: true };
  const result = await work();
  await tx.query("select private.idempotency_finish($1, $2::jsonb)", [key, JSON.stringify(result)]);
  return { result, replayed: false };
}

/**
 * A creating request run as the caller, idempotently: `work` gets the caller's transaction, in which
 * the key is claimed and the response recorded. `operation` is the route's operationId; `request` is
 * everything that defines the request (the body, plus any path parameter), hashed to tell a repeat
 * from another request under the same key.
 */
export function idempotentAsUser<T>(
  db: Db,
  claims: DbClaims,
  key: string | undefined,
  operation: string,
  request: unknown,
  work: (tx: Queryable) => Promise<T>,
): Promise<{ result: T; replayed: boolean }> {
  return db.asUser(claims, (tx) => idempotent(tx, key, operation, request, () => work(tx)));
}

/** Hex SHA-256 of a text (UTF-8); also to fingerprint a large request body before hashing the request. */
export async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
