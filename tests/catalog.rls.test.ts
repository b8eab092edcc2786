import { beforeAll, describe, expect, it } from "vitest";
import type { DbClaims, Queryable } from "../packages/server/src/platform/db/types.ts";
import { createTestApp } from "./helpers/app.ts";
import { claimsOf, productInput, uniqueSku } from "./helpers/catalog.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

// Direct table access, as PostgREST would run it: set local role + request.jwt.claims. The same
// rules must hold as through the API.
const ctx = useTestDatabase();
const CUSTOMER: DbClaims = { role: "authenticated", sub: "00000000-0000-4000-8000-0000000000c1" };

const as = <T>(claims: DbClaims, work: (tx: Queryable) => Promise<T>) => ctx.db.asUser(claims, work);
const ids: Record<"draft" | "published" | "deleted", string> = { draft: "", published: "", deleted: "" };

async function seedProduct(status: "draft" | "published", deleted = false): Promise<string> {
  const { rows } = await ctx.db.query<{ id: string }>(
    "select (private.catalog_insert_products(jsonb_build_array($1::jsonb)))[1] as id",
    [JSON.stringify(productInput({ title: `RLS ${status}${deleted ? " deleted" : ""}`, status }))],
  );
  const id = rows[0]?.id as string;
  if (deleted) await ctx.db.query("update public.products set deleted_at = now() where id = $1", [id]);
  return id;
}

beforeAll(async () => {
  ids.draft = await seedProduct("draft");
  ids.published = await seedProduct("published");
  ids.deleted = await seedProduct("published", true);
});

const visibleProducts = (claims: DbClaims) =>
  as(claims, async (tx) => {
    const { rows } = await tx.query<{ id: string }>("select id from public.products where id = any($1)", [
      Object.values(ids),
    ]);
    return rows.map((row) => row.id).sort();
  });
const visibleVariantsOf = (claims: DbClaims) =>
  as(claims, async (tx) => {
    const { rows } = await tx.query<{ product_id: string }>(
      "select product_id from public.product_variants where product_id = any($1)",
      [Object.values(ids)],
    );
    return [...new Set(rows.map((row) => row.product_id))].sort();
  });

describe(`catalog row level security on ${engine}: reading`, () => {
  it("anon and customers read only published, not-deleted products and their variants", async () => {
    for (const claims of [claimsOf("anon"), CUSTOMER]) {
      expect(await visibleProducts(claims)).toEqual([ids.published]);
      expect(await visibleVariantsOf(claims)).toEqual([ids.published]);
    }
  });

  it("viewers and up read every product and variant, deleted ones included", async () => {
    const all = Object.values(ids).sort();
    for (const role of ["viewer", "staff", "manager"] as const) {
      expect(await visibleProducts(claimsOf(role))).toEqual(all);
      expect(await visibleVariantsOf(claimsOf(role))).toEqual(all);
    }
  });

  it("anyone reads brands and categories", async () => {
    await ctx.db.query("insert into public.brands (name) values ('Readable brand')");
    const { rows } = await as(claimsOf("anon"), (tx) =>
      tx.query("select name from public.brands where name = 'Readable brand'"),
    );
    expect(rows).toHaveLength(1);
  });

  it("anon reads a published product through the API and gets 404 for a draft", async () => {
    const api = createTestApp(ctx.db);
    expect((await api.request("GET", `/v1/products/${ids.published}`)).status).toBe(200);
    expect((await api.request("GET", `/v1/products/${ids.draft}`)).status).toBe(404);
    const list = await api.request("GET", "/v1/products?limit=500");
    expect(list.json.data.every((p: any) => p.status === "published" && p.deleted_at === null)).toBe(true);
    expect(list.json.data.map((p: any) => p.id)).toContain(ids.published);
  });
});

describe(`catalog row level security on ${engine}: writing`, () => {
  const insertDraft = (tx: Queryable, extra = "") =>
    tx.query(`insert into public.products (title${extra ? ", status" : ""}) values ('Direct'${extra}) returning id`);

  it("anon, customers and viewers cannot write products, variants, brands or categories", async () => {
    for (const claims of [claimsOf("anon"), CUSTOMER, claimsOf("viewer")]) {
      // Refused by the grants or the policy (42501), or earlier by the handle lookup the rules
      // trigger makes for a product without a handle, which answers staff only (P0F01).
      await expect(as(claims, (tx) => insertDraft(tx))).rejects.toMatchObject({
        code: expect.stringMatching(/^(42501|P0F01)$/),
      });
      await expect(
        as(claims, (tx) => tx.query("insert into public.brands (name) values ('Nope')")),
      ).rejects.toMatchObject({ code: expect.stringMatching(/^(42501|P0F01)$/) });
      await expect(
        as(claims, (tx) =>
          tx.query(
            "insert into public.product_variants (product_id, sku, price_amount, currency) values ($1, $2, 1, 'EUR')",
            [ids.published, uniqueSku()],
          ),
        ),
      ).rejects.toMatchObject({ code: "42501" });
      const updated = await as(claims, (tx) =>
        tx.query("update public.products set title = 'Hacked' where id = any($1)", [Object.values(ids)]),
      ).catch((error) => error);
      // anon has no update grant at all (42501); the others match no row.
      if (claims.role === "anon") expect(updated).toMatchObject({ code: "42501" });
      else expect(updated.rowCount).toBe(0);
    }
  });

  it("staff create and edit drafts but cannot publish, schedule, archive or delete", async () => {
    const staff = claimsOf("staff");
    const { rows } = await as(staff, (tx) => insertDraft(tx));
    const id = (rows[0] as { id: string }).id;
    await as(staff, (tx) =>
      tx.query(
        "insert into public.product_variants (product_id, sku, price_amount, currency) values ($1, $2, 5, 'EUR')",
        [id, uniqueSku()],
      ),
    );
    const edited = await as(staff, (tx) => tx.query("update public.products set title = 'Edited' where id = $1", [id]));
    expect(edited.rowCount).toBe(1);

    await expect(as(staff, (tx) => insertDraft(tx, ", 'archived'"))).rejects.toMatchObject({ code: "P0F01" });
    for (const change of [
      "status = 'published'",
      "status = 'archived'",
      "deleted_at = now()",
      "publish_at = now() + interval '1 day'",
    ]) {
      await expect(
        as(staff, (tx) => tx.query(`update public.products set ${change} where id = $1`, [id])),
      ).rejects.toMatchObject({ code: "P0F01" });
    }
    const hardDelete = await as(staff, (tx) => tx.query("delete from public.products where id = $1", [id]));
    expect(hardDelete.rowCount).toBe(0);
    const brandDelete = await as(staff, (tx) => tx.query("delete from public.brands"));
    expect(brandDelete.rowCount).toBe(0);
  });

  it("managers publish, archive and delete directly, under the same database rules", async () => {
    const manager = claimsOf("manager");
    const { rows } = await as(manager, (tx) => insertDraft(tx));
    const id = (rows[0] as { id: string }).id;
    await expect(
      as(manager, (tx) => tx.query("update public.products set status = 'published' where id = $1", [id])),
    ).rejects.toMatchObject({ code: "P0C01" });
    await expect(
      as(manager, (tx) =>
        tx.query("update public.products set publish_at = now() - interval '1 hour' where id = $1", [id]),
      ),
    ).rejects.toMatchObject({ code: "P0V01" });
    const variant = await as(manager, (tx) =>
      tx.query<{ id: string }>(
        "insert into public.product_variants (product_id, sku, price_amount, currency) values ($1, $2, 5, 'EUR') returning id",
        [id, uniqueSku()],
      ),
    );
    const published = await as(manager, (tx) =>
      tx.query<{ status: string; published_at: Date | null }>(
        "update public.products set status = 'published' where id = $1 returning status, published_at",
        [id],
      ),
    );
    expect(published.rows[0]?.status).toBe("published");
    expect(published.rows[0]?.published_at).not.toBeNull();
    await expect(
      as(manager, (tx) =>
        tx.query("update public.product_variants set deleted_at = now() where id = $1", [variant.rows[0]?.id]),
      ),
    ).rejects.toMatchObject({ code: "P0C01" });
    await expect(
      as(manager, (tx) => tx.query("delete from public.product_variants where id = $1", [variant.rows[0]?.id])),
    ).rejects.toMatchObject({ code: "P0C01" });
    const archived = await as(manager, (tx) =>
      tx.query("update public.products set status = 'archived' where id = $1", [id]),
    );
    expect(archived.rowCount).toBe(1);
    const deleted = await as(manager, (tx) => tx.query("delete from public.products where id = $1", [id]));
    expect(deleted.rowCount).toBe(1);
  });

  it("clients cannot forge version, timestamps or published_at; versions count real changes", async () => {
    const staff = claimsOf("staff");
    const { rows } = await as(staff, (tx) =>
      tx.query<{ id: string; version: number }>(
        "insert into public.products (title, version, created_at) values ('Forge', 99, '2000-01-01') returning id, version",
      ),
    );
    expect(rows[0]?.version).toBe(1);
    const id = rows[0]?.id;
    const after = await as(staff, (tx) =>
      tx.query<{ version: number; created_at: Date; published_at: Date | null }>(
        "update public.products set version = 50, published_at = now(), title = 'Forged' where id = $1 returning version, created_at, published_at",
        [id],
      ),
    );
    expect(after.rows[0]?.version).toBe(2);
    expect(after.rows[0]?.published_at).toBeNull();
    expect(new Date(after.rows[0]?.created_at as Date).getFullYear()).toBeGreaterThan(2000);
    const noop = await as(staff, (tx) =>
      tx.query<{ version: number }>("update public.products set title = 'Forged' where id = $1 returning version", [
        id,
      ]),
    );
    expect(noop.rows[0]?.version).toBe(2);
  });

  it("the API refuses anonymous writers with 401 and customers with 403", async () => {
    const api = createTestApp(ctx.db);
    expect((await api.request("POST", "/v1/products", { body: productInput() })).status).toBe(401);
    expect((await api.request("POST", "/v1/brands", { body: { name: "x" } })).status).toBe(401);
    expect((await api.request("POST", "/v1/products/bulk", { body: { ops: [] } })).status).toBe(401);
    expect((await api.request("GET", "/v1/products/export")).status).toBe(401);
    expect((await api.request("POST", `/v1/products/${ids.draft}/publish`, { as: "viewer" })).status).toBe(403);
    expect((await api.request("DELETE", `/v1/brands/${ids.draft}`, { as: "staff" })).status).toBe(403);
  });
});
