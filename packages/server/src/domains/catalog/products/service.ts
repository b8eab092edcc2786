import { locateRow } from "../../../http/constraints.ts";
import { Problem } from "../../../http/problems.ts";
import { idempotentAsUser } from "../../../platform/db/idempotency.ts";
import type { Db, DbClaims } from "../../../platform/db/types.ts";
import type { Product, ProductInput } from "../schemas.ts";
import { callJson, callJsonIn } from "../shared.ts";

const VARIANTS = "public.product_variants";

// Row level security and the catalog triggers decide who may do what; these run one SQL function
// each, as the caller, and hand back the product the database built.

export function createProduct(
  db: Db,
  claims: DbClaims,
  input: ProductInput,
  idempotencyKey?: string,
): Promise<{ result: Product; replayed: boolean }> {
  return withVariantsLocated(db, claims, input.variants, () =>
    idempotentAsUser(db, claims, idempotencyKey, "createProduct", input, (tx) =>
      callJsonIn<Product>(tx, "select private.catalog_create_product($1::jsonb) as result", [JSON.stringify(input)]),
    ),
  );
}

/** Runs a write of a product's variants; an error about one of them names it (`body.variants.1.sku`). */
async function withVariantsLocated<T>(
  db: Db,
  claims: DbClaims,
  variants: readonly unknown[] | undefined,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (variants?.length) {
      await db.asUser(claims, (tx) =>
        locateRow(tx, error, [{ table: VARIANTS, path: "body.variants", rows: variants }]),
      );
    }
    throw error;
  }
}

export async function getProduct(db: Db, claims: DbClaims, id: string): Promise<Product> {
  const product = await callJson<Product | null>(
    db,
    claims,
    "select private.product_json(p) as result from public.products p where p.id = $1 and p.deleted_at is null",
    [id],
  );
  if (!product) throw new Problem("not-found", `no product ${id}`);
  return product;
}

export async function getProductByHandle(db: Db, claims: DbClaims, handle: string): Promise<Product> {
  const product = await callJson<Product | null>(
    db,
    claims,
    "select private.product_json(p) as result from public.products p where p.handle = $1 and p.deleted_at is null",
    [handle],
  );
  if (!product) throw new Problem("not-found", `no product with handle ${handle}`);
  return product;
}

export function updateProduct(
  db: Db,
  claims: DbClaims,
  id: string,
  version: number | null,
  patch: Record<string, unknown>,
): Promise<Product> {
  return callJson(db, claims, "select private.catalog_update_product($1, $2, $3::jsonb) as result", [
    id,
    version,
    JSON.stringify(patch),
  ]);
}

export function setProductStatus(
  db: Db,
  claims: DbClaims,
  id: string,
  action: "publish" | "unpublish" | "archive",
  options: { publishAt?: string; version: number | null },
): Promise<Product> {
  return callJson(db, claims, "select private.catalog_set_product_status($1, $2, $3, $4) as result", [
    id,
    action,
    options.publishAt ?? null,
    options.version,
  ]);
}

export async function deleteProduct(db: Db, claims: DbClaims, id: string, version: number | null): Promise<void> {
  await db.asUser(claims, (tx) => tx.query("select private.catalog_delete_product($1, $2)", [id, version]));
}
