import { z } from "@hono/zod-openapi";
import { decodeCursor, encodeCursor } from "../../../http/pagination.ts";
import type { Db, DbClaims } from "../../../platform/db/types.ts";
import type { Product, ProductListQuery } from "../schemas.ts";
import { normalizeJson } from "../shared.ts";

export type ProductFilters = Omit<ProductListQuery, "limit" | "cursor" | "sort">;
type Sort = NonNullable<ProductListQuery["sort"]>;

/** Each sort: the key expression, its type (to compare a cursor against) and its direction. */
const SORTS: Record<Exclude<Sort, `-${string}`>, { expr: string; type: string }> = {
  relevance: { expr: "ts_rank(p.search, s.tsq)", type: "real" },
  title: { expr: "p.title", type: "text" },
  price: {
    expr: `coalesce((select min(v.price_amount) from public.product_variants v
                     where v.product_id = p.id and v.deleted_at is null), 2147483647)`,
    type: "integer",
  },
  created: { expr: "p.created_at", type: "timestamptz" },
  updated: { expr: "p.updated_at", type: "timestamptz" },
};

/**
 * The WHERE clause for the product filters, with parameters from `$1` on. Reads run as the
 * caller, so row level security narrows it further (anon and customers: published only).
 *
 * The variant filters are EXISTS with `offset 0`, which keeps Postgres from turning them into a
 * join: with the variants' row level security in the way it misjudged the price filter and drove
 * the search from every variant in the price range (7,190 of them for 73 matches, 7x the bare
 * query). Checked per candidate product, they cost one index probe each (bench/perf, search row).
 */
export function productFilterSql(filters: ProductFilters, params: unknown[], caller: DbClaims["role"]): string {
  const where = ["p.deleted_at is null"];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (filters.status) where.push(`p.status = ${param(filters.status)}`);
  if (filters.brand_id) where.push(`p.brand_id = ${param(filters.brand_id)}::uuid`);
  if (filters.brand)
    where.push(`p.brand_id = (select b.id from public.brands b where b.handle = ${param(filters.brand)})`);
  if (filters.category_id) {
    where.push(
      `p.category_id in (select c.id from public.categories c where c.path @> array[${param(filters.category_id)}::uuid])`,
    );
  }
  if (filters.category) {
    where.push(`p.category_id in (select c.id from public.categories c
                 where c.path @> array[(select h.id from public.categories h where h.handle = ${param(filters.category)})])`);
  }
  if (filters.sku) {
    where.push(`exists (select 1 from public.product_variants v where v.product_id = p.id and v.deleted_at is null
                 and lower(v.sku) = lower(${param(filters.sku)}) offset 0)`);
  }
  if (filters.handle) where.push(`p.handle = ${param(filters.handle)}`);
  if (filters.price_min !== undefined || filters.price_max !== undefined) {
    where.push(`exists (select 1 from public.product_variants v where v.product_id = p.id and v.deleted_at is null
                 and v.price_amount between ${param(filters.price_min ?? 0)}::integer and ${param(filters.price_max ?? 2147483647)}::integer
                 offset 0)`);
  }
  if (filters.updated_since) where.push(`p.updated_at >= ${param(filters.updated_since)}::timestamptz`);
  if (filters.q && !indexedSearch(filters, caller)) where.push("p.search @@ s.tsq");
  return where.join(" and ");
}

/**
 * Row level security keeps `@@` (not leakproof) from the search index: Postgres may test it only
 * after the policies, row by row. So a signed-in caller's search starts from
 * private.products_matching, which searches the index as its owner within the same visibility as
 * the products' policies (which still apply to every row read here). Anonymous callers, who may not
 * execute security definer functions, keep the plain match.
 */
const indexedSearch = (filters: ProductFilters, caller: DbClaims["role"]) => Boolean(filters.q) && caller !== "anon";

/** `from` clause shared by lists and export: products plus the parsed search query. */
export function productFromSql(filters: ProductFilters, params: unknown[], caller: DbClaims["role"]): string {
  params.push(filters.q ?? null);
  const tsq = `(select private.search_query($${params.length}::text) as tsq) s`;
  return indexedSearch(filters, caller)
    ? `${tsq} cross join lateral private.products_matching(s.tsq) as m(id) join public.products p on p.id = m.id`
    : `public.products p cross join ${tsq}`;
}

const CursorShape = z.tuple([z.union([z.string(), z.number()]), z.uuid()]);

/** A page of products matching the filters, in the requested order, after the cursor. */
export async function listProducts(db: Db, claims: DbClaims, query: ProductListQuery) {
  const sort: Sort = query.q
    ? (query.sort ?? "relevance")
    : query.sort && query.sort !== "relevance"
      ? query.sort
      : "-updated";
  const descending = sort.startsWith("-") || sort === "relevance";
  const { expr, type } = SORTS[sort.replace(/^-/, "") as keyof typeof SORTS];
  const params: unknown[] = [];
  const from = productFromSql(query, params, claims.role);
  const where = [productFilterSql(query, params, claims.role)];
  if (query.cursor) {
    const [key, id] = decodeCursor(query.cursor, CursorShape);
    params.push(key, id);
    where.push(`(${expr}, p.id) ${descending ? "<" : ">"} ($${params.length - 1}::${type}, $${params.length}::uuid)`);
  }
  params.push(query.limit + 1);
  const direction = descending ? "desc" : "asc";
  const sql = `select private.product_json(p) as product, (${expr})::text as sort_key
               from ${from}
               where ${where.join(" and ")}
               order by ${expr} ${direction}, p.id ${direction}
               limit $${params.length}`;
  // One statement: the caller's settings travel ahead of it, with no begin/commit round trips.
  const { rows } = await db.queryAsUser<{ product: Product; sort_key: string }>(claims, sql, params);
  const data = rows.slice(0, query.limit).map((row) => normalizeJson(row.product));
  const last = rows[query.limit - 1];
  return {
    data,
    next_cursor:
      rows.length > query.limit && last ? encodeCursor([castKey(last.sort_key, type), last.product.id]) : null,
  };
}

const castKey = (key: string, type: string) => (type === "real" || type === "integer" ? Number(key) : key);
