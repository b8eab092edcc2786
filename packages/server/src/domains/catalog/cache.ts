import type { CachedRead } from "../../platform/cache/read-cache.ts";
import type { CacheRule } from "../../platform/cache/rules.ts";
import type { WarmTarget } from "../../platform/cache/warm.ts";
import type { Db } from "../../platform/db/types.ts";
import { listProducts } from "./products/list.ts";
import { getProduct, getProductByHandle } from "./products/service.ts";
import { type Brand, type Category, type ProductListQuery, ProductListQuerySchema } from "./schemas.ts";
import { categoryTree, getTaxonomy, listTaxonomy } from "./taxonomy/service.ts";
import { getVariant } from "./variants/service.ts";

// What the catalog caches, and which of its events retire what. Families:
//   product       one product with its variants (by id or handle); guarded per product
//   variant       one variant (staff read): any product or variant change
//   product-list  product lists and searches (any product, variant, brand or category change)
//   category      the category tree, list and single categories
//   brand         brand list and single brands
// Stock is in none of them: inventory is read from Postgres on every request.

const PRODUCT = ["product", "product-list", "variant"] as const;

/** Outbox topic -> the cached families its commit retires. Every catalog topic has a line. */
export const catalogCacheRules: CacheRule[] = [
  { topic: "product.created", families: PRODUCT, product: "id" },
  { topic: "product.updated", families: PRODUCT, product: "id" },
  { topic: "product.published", families: PRODUCT, product: "id" },
  { topic: "product.unpublished", families: PRODUCT, product: "id" },
  { topic: "product.deleted", families: PRODUCT, product: "id" },
  { topic: "product.publish_failed", families: PRODUCT, product: "id" },
  { topic: "variant.created", families: PRODUCT, product: "product_id" },
  { topic: "variant.updated", families: PRODUCT, product: "product_id" },
  { topic: "variant.deleted", families: PRODUCT, product: "product_id" },
  // Lists filter by brand handle and search brand names; categories likewise (and their paths).
  { topic: "brand.created", families: ["brand", "product-list"] },
  { topic: "brand.updated", families: ["brand", "product-list"] },
  { topic: "brand.deleted", families: ["brand", "product-list"] },
  { topic: "category.created", families: ["category", "product-list"] },
  { topic: "category.updated", families: ["category", "product-list"] },
  { topic: "category.deleted", families: ["category", "product-list"] },
];

type Page = { limit: number; cursor?: string };

const versionOf = (value: unknown) => String((value as { version: number }).version);

/** The catalog's cached reads, by name (the name is part of every key). */
export const catalogReads = {
  products: {
    name: "products",
    family: "product-list",
    load: (db, claims, query) => listProducts(db, claims, query),
  } satisfies CachedRead<ProductListQuery>,
  product: {
    name: "product",
    family: "product",
    product: ({ id }) => ({ id }),
    load: (db, claims, { id }) => getProduct(db, claims, id),
    etagPrefix: versionOf,
  } satisfies CachedRead<{ id: string }>,
  productByHandle: {
    name: "product-by-handle",
    family: "product",
    product: ({ handle }) => ({ handle }),
    load: (db, claims, { handle }) => getProductByHandle(db, claims, handle),
    etagPrefix: versionOf,
  } satisfies CachedRead<{ handle: string }>,
  variant: {
    name: "variant",
    family: "variant",
    load: (db, claims, { id }) => getVariant(db, claims, id),
    etagPrefix: versionOf,
  } satisfies CachedRead<{ id: string }>,
  categoryTree: {
    name: "category-tree",
    family: "category",
    load: async (db, claims) => ({ data: await categoryTree(db, claims) }),
  } satisfies CachedRead<Record<string, never>>,
  categories: {
    name: "categories",
    family: "category",
    load: (db, claims, page) => listTaxonomy<Category>(db, claims, "categories", page),
  } satisfies CachedRead<Page>,
  category: {
    name: "category",
    family: "category",
    load: (db, claims, { id }) => getTaxonomy<Category>(db, claims, "categories", id),
  } satisfies CachedRead<{ id: string }>,
  brands: {
    name: "brands",
    family: "brand",
    load: (db, claims, page) => listTaxonomy<Brand>(db, claims, "brands", page),
  } satisfies CachedRead<Page>,
  brand: {
    name: "brand",
    family: "brand",
    load: (db, claims, { id }) => getTaxonomy<Brand>(db, claims, "brands", id),
  } satisfies CachedRead<{ id: string }>,
};

/**
 * What warming always loads for the storefront: the category tree, the first page of brands and
 * the first page of every category's products, keyed exactly as `GET /products?category=<handle>`.
 */
export async function catalogWarmTargets(db: Db): Promise<WarmTarget[]> {
  const { rows } = await db.query<{ handle: string }>(
    "select handle from public.categories order by depth, position, handle",
  );
  const page = { limit: 50 };
  const targets = [
    { read: catalogReads.categoryTree, params: {} },
    { read: catalogReads.brands, params: page },
    { read: catalogReads.categories, params: page },
    ...rows.map(({ handle }) => ({
      read: catalogReads.products,
      params: ProductListQuerySchema.parse({ category: handle }),
    })),
  ];
  return targets.map((target) => ({ ...target, read: target.read as CachedRead<never>, visibility: "anon" }));
}
