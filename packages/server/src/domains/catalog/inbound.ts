import { inboundHandler } from "../../platform/inbound-handler.ts";
import { type PmsProduct, PmsProductSchema } from "./schemas.ts";

const STATUS_ACTION = { draft: "unpublish", published: "publish", archived: "archive" } as const;

/** Product upsert by SKU: the catalog's create, update and status functions, run as the service role. */
export const pmsProductHandler = inboundHandler<PmsProduct>({
  source: "pms-product",
  description: "Product upsert by SKU (one product per SKU, with that SKU as its variant).",
  payload: PmsProductSchema,
  async apply(tx, product) {
    const variantFields = {
      sku: product.sku,
      price_amount: product.price_amount,
      currency: product.currency,
      ...(product.compare_at_amount !== undefined ? { compare_at_amount: product.compare_at_amount } : {}),
      ...(product.barcode !== undefined ? { barcode: product.barcode } : {}),
      ...(product.weight_grams !== undefined ? { weight_grams: product.weight_grams } : {}),
      ...(product.variant_title !== undefined ? { title: product.variant_title } : {}),
      ...(product.options !== undefined ? { options: product.options } : {}),
    };
    const productFields = {
      title: product.title,
      ...(product.description !== undefined ? { description: product.description } : {}),
      ...(product.attributes !== undefined ? { attributes: product.attributes } : {}),
    };
    const existing = await tx.query<{ variant_id: string; product_id: string; status: string }>(
      `select v.id as variant_id, v.product_id, p.status from public.product_variants v
       join public.products p on p.id = v.product_id
       where lower(v.sku) = lower($1) and v.deleted_at is null and p.deleted_at is null
       for update of v`,
      [product.sku],
    );
    const found = existing.rows[0];
    if (!found) {
      const { rows } = await tx.query<{ product: { id: string; variants: { id: string }[] } }>(
        "select private.catalog_create_product($1::jsonb) as product",
        [JSON.stringify({ ...productFields, status: product.status, variants: [variantFields] })],
      );
      const created = rows[0]?.product;
      return { product_id: created?.id, variant_id: created?.variants[0]?.id, created: true };
    }
    await tx.query("select private.catalog_update_product($1, null, $2::jsonb)", [
      found.product_id,
      JSON.stringify(productFields),
    ]);
    await tx.query("select private.catalog_update_variant($1, null, $2::jsonb)", [
      found.variant_id,
      JSON.stringify(variantFields),
    ]);
    if (product.status && product.status !== found.status) {
      await tx.query("select private.catalog_set_product_status($1, $2)", [
        found.product_id,
        STATUS_ACTION[product.status],
      ]);
    }
    return { product_id: found.product_id, variant_id: found.variant_id, created: false };
  },
});
