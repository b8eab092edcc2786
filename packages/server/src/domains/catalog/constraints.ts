import { type ConstraintRules, rules } from "../../http/constraints.ts";

// What each catalog constraint means to a client (see http/constraints.ts).
export const catalogConstraints: ConstraintRules = {
  ...rules("public.brands", {
    brands_pkey: ["id", "taken", "a brand with this id exists"],
    brands_handle_key: ["handle", "taken", "another brand has this handle"],
    brands_handle_check: ["handle", "invalid", "a handle is lower-case letters, digits and single dashes"],
    brands_name_check: ["name", "invalid", "a name is 1 to 200 characters"],
  }),
  ...rules("public.categories", {
    categories_pkey: ["id", "taken", "a category with this id exists"],
    categories_handle_key: ["handle", "taken", "another category has this handle"],
    categories_handle_check: ["handle", "invalid", "a handle is lower-case letters, digits and single dashes"],
    categories_name_check: ["name", "invalid", "a name is 1 to 200 characters"],
    categories_check: ["parent_id", "invalid", "a category cannot be its own parent"],
    categories_parent_id_fkey: ["parent_id", "not_found", "no such parent category, or it still has children"],
  }),
  ...rules("public.products", {
    products_pkey: ["id", "taken", "a product with this id exists"],
    products_handle_key: ["handle", "taken", "another product has this handle"],
    products_handle_check: ["handle", "invalid", "a handle is lower-case letters, digits and single dashes, up to 200"],
    products_title_check: ["title", "invalid", "a title is 1 to 500 characters"],
    products_description_check: ["description", "too_long", "a description is at most 100,000 characters"],
    products_status_check: ["status", "invalid", "status is draft, published or archived"],
    products_attributes_check: ["attributes", "invalid", "attributes are a JSON object"],
    products_brand_id_fkey: ["brand_id", "not_found", "no such brand"],
    products_category_id_fkey: ["category_id", "not_found", "no such category"],
  }),
  ...rules("public.product_variants", {
    product_variants_pkey: ["id", "taken", "a variant with this id exists"],
    product_variants_sku_key: ["sku", "taken", "another variant has this SKU (SKUs are unique in any case)"],
    product_variants_sku_check: [
      "sku",
      "invalid",
      "a SKU is 1-64 letters, digits and . _ / -, starting with a letter or digit",
    ],
    product_variants_position_key: ["position", "taken", "another variant of this product has this position"],
    product_variants_check: ["compare_at_amount", "not_above_price", "the compare-at price must be above the price"],
    product_variants_price_amount_check: ["price_amount", "too_small", "a price is zero or more (minor units)"],
    product_variants_currency_check: ["currency", "invalid", "a currency is an ISO 4217 code such as EUR"],
    product_variants_title_check: ["title", "too_long", "a variant title is at most 500 characters"],
    product_variants_options_check: ["options", "invalid", "options are a JSON object"],
    product_variants_barcode_check: ["barcode", "invalid", "a barcode is 4-64 letters, digits and dashes"],
    product_variants_weight_grams_check: ["weight_grams", "too_small", "a weight is zero or more grams"],
    product_variants_product_id_fkey: ["product_id", "not_found", "no such product"],
  }),
  // Import jobs: written by the import pipeline, never from a client's field.
  ...rules("private.background_jobs", {
    background_jobs_pkey: [null, "internal", "the job exists already"],
    background_jobs_done_check: [null, "internal", "a job's done count is never negative"],
    background_jobs_failed_check: [null, "internal", "a job's failed count is never negative"],
    background_jobs_total_check: [null, "internal", "a job's total is never negative"],
    background_jobs_errors_check: [null, "internal", "a job's errors are a list"],
    background_jobs_kind_check: [null, "internal", "a job kind is a dotted lower-case name"],
    background_jobs_status_check: [null, "internal", "a job is queued, running, completed or failed"],
  }),
  ...rules("private.import_rows", {
    import_rows_pkey: [null, "internal", "each line of an import is staged once"],
    import_rows_job_id_fkey: [null, "internal", "an import line belongs to an existing job"],
  }),
};
