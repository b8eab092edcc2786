import { z } from "@hono/zod-openapi";
import { PageQuerySchema } from "../../http/pagination.ts";
import { SkuSchema } from "../../http/schemas.ts";

// Shapes only: cross-field rules (compare-at above price, a published product has a variant, a
// schedule lies ahead, no category cycles) live in the database and come back as problems.

const HANDLE = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const MAX_INT = 2_147_483_647;

export const HandleSchema = z.string().max(200).regex(HANDLE, "lower-case letters, digits and single dashes");
const Timestamp = z.iso.datetime({ offset: true });
const Money = z.number().int().min(0).max(MAX_INT);

export const ProductStatusSchema = z.enum(["draft", "published", "archived"]).openapi("ProductStatus");

// ---------------------------------------------------------------------------------------------
// Variants

export const VariantInputSchema = z
  .object({
    sku: SkuSchema,
    title: z.string().max(500).optional(),
    options: z
      .record(z.string(), z.string())
      .optional()
      .openapi({ example: { size: "M", colour: "blue" } }),
    price_amount: Money.openapi({ description: "Price in minor units (cents)", example: 1999 }),
    currency: z.string().regex(/^[A-Z]{3}$/, "an ISO 4217 code such as EUR"),
    compare_at_amount: Money.nullable().optional().openapi({ description: "Must be above price_amount when set" }),
    barcode: z.string().max(64).nullable().optional(),
    weight_grams: z.number().int().min(0).max(MAX_INT).nullable().optional(),
    position: z.number().int().min(0).max(MAX_INT).optional(),
  })
  .strict()
  .openapi("VariantInput");

export const VariantPatchSchema = VariantInputSchema.partial()
  .extend({ version: z.number().int().min(1).optional().openapi({ description: "Expected version (or If-Match)" }) })
  .openapi("VariantPatch");

export const VariantSchema = z
  .object({
    id: z.uuid(),
    product_id: z.uuid(),
    sku: z.string(),
    title: z.string(),
    options: z.record(z.string(), z.unknown()),
    price_amount: z.number().int(),
    currency: z.string(),
    compare_at_amount: z.number().int().nullable(),
    barcode: z.string().nullable(),
    weight_grams: z.number().int().nullable(),
    position: z.number().int(),
    version: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
    deleted_at: z.string().nullable(),
  })
  .openapi("Variant");

// ---------------------------------------------------------------------------------------------
// Products

export const ProductInputSchema = z
  .object({
    title: z.string().trim().min(1).max(500),
    handle: HandleSchema.optional().openapi({ description: "Generated from the title when absent" }),
    description: z.string().max(100_000).optional(),
    brand_id: z.uuid().nullable().optional(),
    brand: HandleSchema.optional().openapi({ description: "The brand's handle, instead of brand_id" }),
    category_id: z.uuid().nullable().optional(),
    category: HandleSchema.optional().openapi({ description: "The category's handle, instead of category_id" }),
    attributes: z.record(z.string(), z.unknown()).optional(),
    status: ProductStatusSchema.optional().openapi({ description: "draft unless given; other statuses need manager" }),
    publish_at: Timestamp.optional().openapi({ description: "Schedule publishing (manager); must be in the future" }),
    variants: z.array(VariantInputSchema).max(100).optional(),
  })
  .strict()
  .openapi("ProductInput");

/**
 * A line of an import: a product as POST /products takes it, or as the export wrote it (the fields
 * only a read has, such as id and version, are ignored there rather than refused, and an unscheduled
 * product's `publish_at` is null).
 */
export const ProductLineSchema = ProductInputSchema.extend({
  publish_at: Timestamp.nullish(),
  variants: z.array(VariantInputSchema.strip()).max(100).optional(),
}).strip();

export const ProductPatchSchema = z
  .object({
    title: z.string().trim().min(1).max(500).optional(),
    handle: HandleSchema.nullable().optional().openapi({ description: "null regenerates it from the title" }),
    description: z.string().max(100_000).nullable().optional(),
    brand_id: z.uuid().nullable().optional(),
    category_id: z.uuid().nullable().optional(),
    attributes: z.record(z.string(), z.unknown()).optional(),
    version: z.number().int().min(1).optional().openapi({ description: "Expected version (or If-Match)" }),
  })
  .strict()
  .openapi("ProductPatch");

export const ProductSchema = z
  .object({
    id: z.uuid(),
    handle: z.string(),
    title: z.string(),
    description: z.string(),
    brand_id: z.uuid().nullable(),
    category_id: z.uuid().nullable(),
    status: ProductStatusSchema,
    published_at: z.string().nullable(),
    publish_at: z.string().nullable(),
    attributes: z.record(z.string(), z.unknown()),
    version: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
    deleted_at: z.string().nullable(),
    variants: z.array(VariantSchema),
  })
  .openapi("Product");

export const PublishBodySchema = z
  .object({
    publish_at: Timestamp.optional().openapi({ description: "Publish later instead of now" }),
    version: z.number().int().min(1).optional(),
  })
  .strict()
  .openapi("PublishRequest");

export const VersionBodySchema = z
  .strictObject({ version: z.number().int().min(1).optional() })
  .openapi("VersionRequest");

export const PRODUCT_SORTS = [
  "relevance",
  "title",
  "-title",
  "price",
  "-price",
  "created",
  "-created",
  "updated",
  "-updated",
] as const;

export const ProductHandleParamSchema = z.object({
  handle: HandleSchema.openapi({ param: { name: "handle", in: "path" } }),
});

export const ProductListQuerySchema = PageQuerySchema.extend({
  status: ProductStatusSchema.optional(),
  brand_id: z.uuid().optional(),
  brand: HandleSchema.optional().openapi({ description: "The brand's handle (instead of brand_id)" }),
  category_id: z.uuid().optional().openapi({ description: "This category and every category below it" }),
  category: HandleSchema.optional().openapi({
    description: "The category's handle (instead of category_id): it and every category below it",
  }),
  sku: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .openapi({ description: "Products having a live variant with this SKU (any case)" }),
  handle: HandleSchema.optional().openapi({ description: "The product with this handle" }),
  price_min: z.coerce.number().int().min(0).max(MAX_INT).optional(),
  price_max: z.coerce.number().int().min(0).max(MAX_INT).optional(),
  updated_since: Timestamp.optional(),
  q: z.string().trim().min(1).max(200).optional().openapi({ description: "Search words; each matches as a prefix" }),
  sort: z
    .enum(PRODUCT_SORTS)
    .optional()
    .openapi({ description: "`-` sorts descending; default relevance with q, else -updated" }),
});
export type ProductListQuery = z.infer<typeof ProductListQuerySchema>;

export const ExportQuerySchema = ProductListQuerySchema.omit({ limit: true, cursor: true, sort: true }).extend({
  format: z.enum(["csv", "jsonl"]).default("jsonl"),
});

// ---------------------------------------------------------------------------------------------
// Bulk

export const BulkOperationSchema = z.discriminatedUnion("action", [
  z.strictObject({ action: z.literal("create"), product: ProductInputSchema }),
  z.strictObject({
    action: z.literal("update"),
    id: z.uuid(),
    version: z.number().int().min(1).optional(),
    product: ProductPatchSchema.omit({ version: true }),
  }),
  z.strictObject({ action: z.literal("delete"), id: z.uuid(), version: z.number().int().min(1).optional() }),
]);

export const BulkRequestSchema = z
  .object({
    atomic: z.boolean().default(false).openapi({ description: "All or nothing" }),
    ops: z.array(BulkOperationSchema).min(1).max(1000),
  })
  .strict()
  .openapi("BulkRequest");

const ItemErrorSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().optional(),
});

export const BulkResultSchema = z
  .object({
    atomic: z.boolean(),
    committed: z.boolean(),
    succeeded: z.number().int(),
    failed: z.number().int(),
    results: z.array(
      z.object({
        index: z.number().int(),
        status: z.enum(["ok", "failed", "rolled_back"]),
        id: z.uuid().nullable(),
        product: ProductSchema.nullable().optional(),
        error: ItemErrorSchema.passthrough().optional(),
      }),
    ),
  })
  .openapi("BulkResult");

// ---------------------------------------------------------------------------------------------
// Import and jobs

export const JobSchema = z
  .object({
    id: z.uuid(),
    kind: z.string(),
    status: z.enum(["queued", "running", "completed", "failed"]),
    total: z.number().int(),
    done: z.number().int(),
    failed: z.number().int(),
    errors: z.array(
      z.object({ line: z.number().int(), message: z.string(), field: z.string().optional() }).passthrough(),
    ),
    created_by: z.uuid().nullable(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .openapi("Job");

export const ImportQuerySchema = z.object({
  format: z.enum(["csv", "jsonl"]).optional().openapi({ description: "Defaults from Content-Type" }),
});

// ---------------------------------------------------------------------------------------------
// Brands and categories

export const BrandInputSchema = z
  .strictObject({ name: z.string().trim().min(1).max(200), handle: HandleSchema.optional() })
  .openapi("BrandInput");
export const BrandPatchSchema = z
  .strictObject({ name: z.string().trim().min(1).max(200).optional(), handle: HandleSchema.optional() })
  .openapi("BrandPatch");
export const BrandSchema = z
  .object({ id: z.uuid(), name: z.string(), handle: z.string(), created_at: z.string(), updated_at: z.string() })
  .openapi("Brand");

export const CategoryInputSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    handle: HandleSchema.optional(),
    parent_id: z.uuid().nullable().optional(),
    position: z.number().int().min(0).max(MAX_INT).optional(),
  })
  .strict()
  .openapi("CategoryInput");
export const CategoryPatchSchema = CategoryInputSchema.partial().openapi("CategoryPatch");
export const CategorySchema = z
  .object({
    id: z.uuid(),
    parent_id: z.uuid().nullable(),
    name: z.string(),
    handle: z.string(),
    position: z.number().int(),
    path: z.array(z.uuid()),
    depth: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Category");

export interface CategoryNode extends z.infer<typeof CategorySchema> {
  children: CategoryNode[];
}
export const CategoryNodeSchema: z.ZodType<CategoryNode> = CategorySchema.extend({
  get children() {
    return z.array(CategoryNodeSchema);
  },
}).openapi("CategoryNode");

export const PlainListQuerySchema = PageQuerySchema;

export type ProductInput = z.infer<typeof ProductInputSchema>;
export type Product = z.infer<typeof ProductSchema>;
export type Variant = z.infer<typeof VariantSchema>;
export type Brand = z.infer<typeof BrandSchema>;
export type Category = z.infer<typeof CategorySchema>;
export type BrandInput = z.infer<typeof BrandInputSchema>;
export type BrandPatch = z.infer<typeof BrandPatchSchema>;
export type CategoryInput = z.infer<typeof CategoryInputSchema>;
export type CategoryPatch = z.infer<typeof CategoryPatchSchema>;
export type Job = z.infer<typeof JobSchema>;
export type BulkRequest = z.infer<typeof BulkRequestSchema>;
export type BulkResult = z.infer<typeof BulkResultSchema>;

/** The `pms-product` inbound webhook message: one product per SKU, with that SKU as its variant. */
export const PmsProductSchema = z
  .object({
    sku: SkuSchema,
    title: z.string().min(1).max(500),
    description: z.string().max(100_000).optional(),
    price_amount: z.number().int().min(0),
    currency: z.string().regex(/^[A-Z]{3}$/, "an ISO 4217 code"),
    compare_at_amount: z.number().int().min(0).nullable().optional(),
    barcode: z.string().nullable().optional(),
    weight_grams: z.number().int().min(0).nullable().optional(),
    variant_title: z.string().max(500).optional(),
    options: z.record(z.string(), z.string()).optional(),
    attributes: z.record(z.string(), z.unknown()).optional(),
    status: z.enum(["draft", "published", "archived"]).optional(),
  })
  .openapi("PmsProductMessage");

export type PmsProduct = z.infer<typeof PmsProductSchema>;
