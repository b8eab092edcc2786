import { Problem } from "../../../http/problems.ts";
import { idempotentAsUser } from "../../../platform/db/idempotency.ts";
import type { Db, DbClaims } from "../../../platform/db/types.ts";
import type { Variant } from "../schemas.ts";
import { callJson, callJsonIn } from "../shared.ts";

export function addVariant(
  db: Db,
  claims: DbClaims,
  productId: string,
  input: Record<string, unknown>,
  idempotencyKey?: string,
) {
  // The product is part of the request: the same key and body for another product is another request.
  return idempotentAsUser(db, claims, idempotencyKey, "addVariant", { product_id: productId, body: input }, (tx) =>
    callJsonIn<Variant>(tx, "select private.catalog_add_variant($1, $2::jsonb) as result", [
      productId,
      JSON.stringify(input),
    ]),
  );
}

/** A live variant; RLS decides who sees it. */
export async function getVariant(db: Db, claims: DbClaims, id: string): Promise<Variant> {
  const variant = await callJson<Variant | null>(
    db,
    claims,
    "select to_jsonb(v.*) as result from public.product_variants v where v.id = $1 and v.deleted_at is null",
    [id],
  );
  if (!variant) throw new Problem("not-found", `no variant ${id}`);
  return variant;
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
