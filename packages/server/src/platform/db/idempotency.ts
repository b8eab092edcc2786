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
  const hash = await requestHash(request);
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

/**
 * For a request whose work spans several transactions and a call outside the database (an image
 * upload): the first response to its key, if the key has one (a 409 if it was used for another
 * request), claiming nothing. The work's last transaction still claims the key through
 * `idempotentAsUser`, so two concurrent first requests record one answer between them.
 */
export async function earlierResponse<T>(
  db: Db,
  claims: DbClaims,
  key: string | undefined,
  operation: string,
  request: unknown,
): Promise<T | undefined> {
  if (!key) return undefined;
  const hash = await requestHash(request);
  const { rows } = await db.asUser(claims, (tx) =>
    tx.query<{ earlier: T | null }>("select private.idempotency_peek($1, $2, $3) as earlier", [key, operation, hash]),
  );
  return rows[0]?.earlier ?? undefined;
}

const requestHash = (request: unknown) => sha256(JSON.stringify(request));

/** Hex SHA-256 of a text (UTF-8); also to fingerprint a large request body before hashing the request. */
export async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
