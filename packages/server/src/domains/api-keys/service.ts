import { idempotentAsUser } from "../../platform/db/idempotency.ts";
import type { Db, DbClaims } from "../../platform/db/types.ts";
import type { ApiKey, CreateApiKeyBody, CreatedApiKey } from "./schemas.ts";

// Who may manage keys, and with what scopes and role cap, is decided in SQL (migration api_keys):
// these functions only call it as the caller.

type KeyJson = Record<string, unknown> & { id: string; created_at: string };

const TIMESTAMPS = ["created_at", "expires_at", "last_used_at", "revoked_at", "overlap_ends_at"] as const;

function toApiKey(row: KeyJson): ApiKey {
  const key = { ...row } as Record<string, unknown>;
  for (const field of TIMESTAMPS) {
    const value = key[field];
    key[field] = typeof value === "string" ? new Date(value).toISOString() : null;
  }
  delete key.secret;
  delete key.signing_secret;
  return key as ApiKey;
}

/**
 * Creates a key. The secrets appear in this answer only: a repeat under the same Idempotency-Key
 * answers the same key with `secret` and `signing_secret` null, since the recorded response must
 * not hold them (that would keep the key itself, which the table never does).
 */
export async function createApiKey(
  db: Db,
  claims: DbClaims,
  body: CreateApiKeyBody,
  idempotencyKey?: string,
): Promise<{ result: CreatedApiKey; replayed: boolean }> {
  let secrets = { secret: null as string | null, signing_secret: null as string | null };
  const { result, replayed } = await idempotentAsUser(db, claims, idempotencyKey, "createApiKey", body, async (tx) => {
    const { rows } = await tx.query<{ key: KeyJson & { secret: string; signing_secret: string } }>(
      "select private.api_key_create($1, $2, $3, $4, $5) as key",
      [body.name, body.environment, body.scopes, body.role_cap, body.expires_at ?? null],
    );
    const created = rows[0]?.key as KeyJson & { secret: string; signing_secret: string };
    secrets = { secret: created.secret, signing_secret: created.signing_secret };
    return toApiKey(created);
  });
  return { result: { ...result, ...secrets }, replayed };
}

/** Issues the successor of an active key; the old key works for `overlapSeconds` more. */
export async function rotateApiKey(
  db: Db,
  claims: DbClaims,
  id: string,
  overlapSeconds: number,
  expiresAt?: string,
): Promise<CreatedApiKey> {
  const { rows } = await db.asUser(claims, (tx) =>
    tx.query<{ key: KeyJson & { secret: string; signing_secret: string } }>(
      "select private.api_key_rotate($1, make_interval(secs => $2), $3) as key",
      [id, overlapSeconds, expiresAt ?? null],
    ),
  );
  const created = rows[0]?.key as KeyJson & { secret: string; signing_secret: string };
  return { ...toApiKey(created), secret: created.secret, signing_secret: created.signing_secret };
}

export async function revokeApiKey(db: Db, claims: DbClaims, id: string): Promise<void> {
  await db.asUser(claims, (tx) => tx.query("select private.api_key_revoke($1)", [id]));
}

export async function getApiKey(db: Db, claims: DbClaims, id: string): Promise<ApiKey> {
  const { rows } = await db.asUser(claims, (tx) =>
    tx.query<{ key: KeyJson }>("select private.api_key_get($1) as key", [id]),
  );
  return toApiKey(rows[0]?.key as KeyJson);
}

/** A page of keys, oldest first; the position is the raw (created_at, id) of the last one. */
export async function listApiKeys(
  db: Db,
  claims: DbClaims,
  page: { limit: number; after?: { created_at: string; id: string } },
): Promise<{ keys: ApiKey[]; positions: { created_at: string; id: string }[] }> {
  const { rows } = await db.asUser(claims, (tx) =>
    tx.query<{ key: KeyJson }>("select private.api_key_list($1, $2, $3) as key", [
      page.after?.created_at ?? null,
      page.after?.id ?? null,
      page.limit + 1,
    ]),
  );
  return {
    keys: rows.map((row) => toApiKey(row.key)),
    positions: rows.map((row) => ({ created_at: row.key.created_at, id: row.key.id })),
  };
}
