import { z } from "@hono/zod-openapi";
import { decodeCursor, toPage } from "../../../http/pagination.ts";
import { Problem } from "../../../http/problems.ts";
import { idempotentAsUser } from "../../../platform/db/idempotency.ts";
import type { Db, DbClaims, Queryable } from "../../../platform/db/types.ts";
import type {
  Brand,
  BrandInput,
  BrandPatch,
  Category,
  CategoryInput,
  CategoryNode,
  CategoryPatch,
} from "../schemas.ts";
import { normalizeJson } from "../shared.ts";

// Brands and categories: one statement each, as the caller. RLS decides who writes; the rules
// triggers fill handles, keep category paths and refuse cycles.

export type Taxonomy = "brands" | "categories";

async function oneIn<T>(tx: Queryable, sql: string, params: unknown[], missing: string): Promise<T> {
  const { rows } = await tx.query<{ result: T }>(sql, params);
  if (!rows[0]) throw new Problem("not-found", missing);
  return normalizeJson(rows[0].result);
}

const one = <T>(db: Db, claims: DbClaims, sql: string, params: unknown[], missing: string) =>
  db.asUser(claims, (tx) => oneIn<T>(tx, sql, params, missing));

const ORDER: Record<Taxonomy, string> = { brands: "t.handle", categories: "t.handle" };

export async function listTaxonomy<T extends Brand | Category>(
  db: Db,
  claims: DbClaims,
  table: Taxonomy,
  page: { limit: number; cursor?: string },
) {
  const after = page.cursor ? decodeCursor(page.cursor, z.string()) : null;
  const { rows } = await db.asUser(claims, (tx) =>
    tx.query<{ result: T }>(
      `select to_jsonb(t) as result from public.${table} t
       where $1::text is null or ${ORDER[table]} > $1 order by ${ORDER[table]} limit $2`,
      [after, page.limit + 1],
    ),
  );
  return toPage(
    rows.map((row) => normalizeJson(row.result)),
    page.limit,
    (row) => row.handle,
  );
}

export const getTaxonomy = <T>(db: Db, claims: DbClaims, table: Taxonomy, id: string) =>
  one<T>(db, claims, `select to_jsonb(t) as result from public.${table} t where t.id = $1`, [id], `no ${table} ${id}`);

export const createBrand = (db: Db, claims: DbClaims, input: BrandInput, idempotencyKey?: string) =>
  idempotentAsUser(db, claims, idempotencyKey, "createBrand", input, (tx) =>
    oneIn<Brand>(
      tx,
      "insert into public.brands (name, handle) values ($1, $2) returning to_jsonb(brands.*) as result",
      [input.name, input.handle ?? null],
      "not created",
    ),
  );

export const updateBrand = (db: Db, claims: DbClaims, id: string, patch: BrandPatch) =>
  one<Brand>(
    db,
    claims,
    `update public.brands b set
       name = case when $2::jsonb ? 'name' then $2::jsonb ->> 'name' else b.name end,
       handle = case when $2::jsonb ? 'handle' then $2::jsonb ->> 'handle' else b.handle end
     where b.id = $1 returning to_jsonb(b.*) as result`,
    [id, JSON.stringify(patch)],
    `no brand ${id}`,
  );

export const createCategory = (db: Db, claims: DbClaims, input: CategoryInput, idempotencyKey?: string) =>
  idempotentAsUser(db, claims, idempotencyKey, "createCategory", input, (tx) =>
    oneIn<Category>(
      tx,
      `insert into public.categories (name, handle, parent_id, position)
       select $1::jsonb ->> 'name', $1::jsonb ->> 'handle', ($1::jsonb ->> 'parent_id')::uuid,
              coalesce(($1::jsonb ->> 'position')::integer, 0)
       returning to_jsonb(categories.*) as result`,
      [JSON.stringify(input)],
      "not created",
    ),
  );

export const updateCategory = (db: Db, claims: DbClaims, id: string, patch: CategoryPatch) =>
  one<Category>(
    db,
    claims,
    `update public.categories c set
       name = case when $2::jsonb ? 'name' then $2::jsonb ->> 'name' else c.name end,
       handle = case when $2::jsonb ? 'handle' then $2::jsonb ->> 'handle' else c.handle end,
       parent_id = case when $2::jsonb ? 'parent_id' then ($2::jsonb ->> 'parent_id')::uuid else c.parent_id end,
       position = case when $2::jsonb ? 'position' then coalesce(($2::jsonb ->> 'position')::integer, 0) else c.position end
     where c.id = $1 returning to_jsonb(c.*) as result`,
    [id, JSON.stringify(patch)],
    `no category ${id}`,
  );

export async function deleteTaxonomy(db: Db, claims: DbClaims, table: Taxonomy, id: string): Promise<void> {
  const { rowCount } = await db.asUser(claims, (tx) => tx.query(`delete from public.${table} where id = $1`, [id]));
  if (rowCount === 0) throw new Problem("not-found", `no ${table} ${id}, or the caller may not delete it`);
}

/** The whole category tree, siblings by position then name. */
export async function categoryTree(db: Db, claims: DbClaims): Promise<CategoryNode[]> {
  const { rows } = await db.asUser(claims, (tx) =>
    tx.query<{ result: Category }>(
      "select to_jsonb(c) as result from public.categories c order by c.depth, c.position, c.name, c.id",
    ),
  );
  const nodes = new Map<string, CategoryNode>();
  const roots: CategoryNode[] = [];
  for (const { result } of rows) {
    const node: CategoryNode = { ...normalizeJson(result), children: [] };
    nodes.set(node.id, node);
    const parent = node.parent_id ? nodes.get(node.parent_id) : undefined;
    (parent ? parent.children : roots).push(node);
  }
  return roots;
}
