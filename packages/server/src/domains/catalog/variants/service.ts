import type { Db, DbClaims } from "../../../platform/db/types.ts";
import type { Variant } from "../schemas.ts";
import { callJson } from "../shared.ts";

export function addVariant(db: Db, claims: DbClaims, productId: string, input: Record<string, unknown>) {
  return callJson<Variant>(db, claims, "select private.catalog_add_variant($1, $2::jsonb) as result", [
    productId,
    JSON.stringify(input),
  ]);
}

export function updateVariant(
  db: Db,
  claims: DbClaims,
  id: string,
  version: number | null,
  patch: Record<string, unknown>,
) {
  return callJson<Variant>(db, claims, "select private.catalog_update_variant($1, $2, $3::jsonb) as result", [
    id,
    version,
    JSON.stringify(patch),
  ]);
}

export async function deleteVariant(db: Db, claims: DbClaims, id: string, version: number | null): Promise<void> {
  await db.asUser(claims, (tx) => tx.query("select private.catalog_delete_variant($1, $2)", [id, version]));
}
