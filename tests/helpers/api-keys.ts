import { DEMO_USERS } from "../../packages/local/src/tokens.ts";
import type { AppRole } from "../../packages/server/src/http/auth.ts";
import type { Scope } from "../../packages/server/src/http/scopes.ts";
import type { Db } from "../../packages/server/src/platform/db/types.ts";

export interface IssuedKey {
  id: string;
  secret: string;
  signing_secret: string;
  [field: string]: unknown;
}

/** Issues a key straight through the SQL function, as a demo user of role `as` (owner by default). */
export async function issueKey(
  db: Db,
  options: { scopes: Scope[]; roleCap?: AppRole; as?: AppRole; name?: string; expiresAt?: string },
): Promise<IssuedKey> {
  const as = options.as ?? "owner";
  const { rows } = await db.asUser({ role: "authenticated", sub: DEMO_USERS[as], app_role: as }, (tx) =>
    tx.query<{ key: IssuedKey }>("select private.api_key_create($1, 'test', $2, $3, $4) as key", [
      options.name ?? "test key",
      options.scopes,
      options.roleCap ?? "staff",
      options.expiresAt ?? null,
    ]),
  );
  const key = rows[0]?.key;
  if (!key) throw new Error("no key issued");
  return key;
}
