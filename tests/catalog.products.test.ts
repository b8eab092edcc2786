import { describe, expect, it } from "vitest";
import { createTestApp } from "./helpers/app.ts";
import { claimsOf, productInput, uniqueSku } from "./helpers/catalog.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

const ctx = useTestDatabase();
const api = () => createTestApp(ctx.db);

async function create(overrides: Record<string, unknown> = {}, as: "staff" | "manager" = "staff") {
  const response = await api().request("POST", "/v1/products", { as, body: productInput(overrides) });
  expect(response.status, response.text).toBe(201);
  return response.json;
}

describe(`products through the API on ${engine}`, () => {
  it("POST creates a product with its variants in one call and answers the full product", async () => {
    const sku = uniqueSku();
    const response = await api().request("POST", "/v1/products", {
      as: "staff",
      body: productInput({
        title: "Bamboo T-Shirt",
        attributes: { material: "cotton" },
        variants: [
          { sku, price_amount: 2500, currency: "EUR", options: { size: "S" } },
          { sku: `${sku}-L`, price_amount: 2700, currency: "EUR", compare_at_amount: 3000, options: { size: "L" } },
        ],
      }),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("etag")).toBe('"1"');
    expect(response.headers.get("location")).toBe(`/api/v1/products/${response.json.id}`);
    expect(response.json).toMatchObject({
      title: "Bamboo T-Shirt",
      handle: "bamboo-t-shirt",
      status: "draft",
      version: 1,
      attributes: { material: "cotton" },
      deleted_at: null,
    });
    expect(response.json.created_at).toMatch(/Z$/);
    expect(response.json.variants.map((v: any) => [v.sku, v.price_amount, v.position])).toEqual([
      [sku, 2500, 0],
      [`${sku}-L`, 2700, 1],
    ]);
    const fetched = await api().request("GET", `/v1/products/${response.json.id}`, { as: "viewer" });
    expect(fetched.status).toBe(200);
    expect(fetched.json).toEqual(response.json);
  });

  it("generates unique, URL-safe handles from titles and keeps a given one", async () => {
    const first = await create({ title: "Café Crème — Größe XL!" });
    const second = await create({ title: "Café Crème — Größe XL!" });
    expect(first.handle).toBe("cafe-creme-grosse-xl");
    expect(second.handle).toBe("cafe-creme-grosse-xl-2");
    const given = await create({ title: "Whatever", handle: "my-own-handle" });
    expect(given.handle).toBe("my-own-handle");
    const taken = await api().request("POST", "/v1/products", {
      as: "staff",
      body: productInput({ handle: "my-own-handle" }),
    });
    expect(taken.status).toBe(409);
  });

  it("refuses bad input with 422 naming the field, and duplicate SKUs case-insensitively with 409", async () => {
    const bad = await api().request("POST", "/v1/products", {
      as: "staff",
      body: { title: "", variants: [{ sku: "x", price_amount: -1, currency: "eur" }] },
    });
    expect(bad.status).toBe(422);
    const fields = bad.json.errors.map((e: any) => e.field);
    expect(fields).toEqual(
      expect.arrayContaining(["body.title", "body.variants.0.price_amount", "body.variants.0.currency"]),
    );

    const sku = uniqueSku();
    await create({ variants: [{ sku, price_amount: 100, currency: "EUR" }] });
    const duplicate = await api().request("POST", "/v1/products", {
      as: "staff",
      body: productInput({ variants: [{ sku: sku.toLowerCase(), price_amount: 100, currency: "EUR" }] }),
    });
    expect(duplicate.status).toBe(409);
    expect(duplicate.json.type).toBe("https://storekeep.dev/problems/conflict");
  });

  it("refuses compare_at_amount at or below the price (a database rule) with 422", async () => {
    const response = await api().request("POST", "/v1/products", {
      as: "staff",
      body: productInput({
        variants: [{ sku: uniqueSku(), price_amount: 500, currency: "EUR", compare_at_amount: 500 }],
      }),
    });
    expect(response.status).toBe(422);
  });

  it("PATCH with If-Match or version bumps the version; a stale one is 409 with the current product", async () => {
    const product = await create();
    const first = await api().request("PATCH", `/v1/products/${product.id}`, {
      as: "staff",
      headers: { "if-match": '"1"' },
      body: { title: "Renamed once" },
    });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ title: "Renamed once", version: 2 });
    expect(first.headers.get("etag")).toBe('"2"');

    const second = await api().request("PATCH", `/v1/products/${product.id}`, {
      as: "staff",
      body: { description: "new text", version: 2 },
    });
    expect(second.json).toMatchObject({ description: "new text", version: 3, title: "Renamed once" });

    const stale = await api().request("PATCH", `/v1/products/${product.id}`, {
      as: "staff",
      headers: { "if-match": '"1"' },
      body: { title: "Lost update" },
    });
    expect(stale.status).toBe(409);
    expect(stale.json.type).toBe("https://storekeep.dev/problems/version-conflict");
    expect(stale.json.expected_version).toBe(1);
    expect(stale.json.current).toMatchObject({ id: product.id, version: 3, title: "Renamed once" });
    expect(stale.json.current.variants).toHaveLength(1);

    const unchanged = await api().request("GET", `/v1/products/${product.id}`, { as: "viewer" });
    expect(unchanged.json.title).toBe("Renamed once");

    const disagree = await api().request("PATCH", `/v1/products/${product.id}`, {
      as: "staff",
      headers: { "if-match": '"3"' },
      body: { title: "x", version: 2 },
    });
    expect(disagree.status).toBe(422);
  });

  it("PATCH and GET of an unknown product are 404; viewers may not PATCH", async () => {
    const missing = "00000000-0000-4000-8000-00000000dead";
    expect((await api().request("GET", `/v1/products/${missing}`, { as: "viewer" })).status).toBe(404);
    expect(
      (await api().request("PATCH", `/v1/products/${missing}`, { as: "staff", body: { title: "x" } })).status,
    ).toBe(404);
    const product = await create();
    expect(
      (await api().request("PATCH", `/v1/products/${product.id}`, { as: "viewer", body: { title: "x" } })).status,
    ).toBe(403);
  });

  it("publishes only a product with a variant, then unpublishes and archives it (manager)", async () => {
    const empty = await create({ variants: [] });
    const refused = await api().request("POST", `/v1/products/${empty.id}/publish`, { as: "manager" });
    expect(refused.status).toBe(409);
    expect(refused.json.rule).toBe("published_needs_variant");

    const product = await create();
    expect((await api().request("POST", `/v1/products/${product.id}/publish`, { as: "staff" })).status).toBe(403);
    const published = await api().request("POST", `/v1/products/${product.id}/publish`, { as: "manager" });
    expect(published.status).toBe(200);
    expect(published.json.status).toBe("published");
    expect(published.json.published_at).toMatch(/Z$/);

    const lastVariant = published.json.variants[0].id;
    const removeLast = await api().request("DELETE", `/v1/variants/${lastVariant}`, { as: "staff" });
    expect(removeLast.status).toBe(409);

    const unpublished = await api().request("POST", `/v1/products/${product.id}/unpublish`, {
      as: "manager",
      body: { version: published.json.version },
    });
    expect(unpublished.json).toMatchObject({ status: "draft", published_at: null });
    const stale = await api().request("POST", `/v1/products/${product.id}/archive`, {
      as: "manager",
      headers: { "if-match": String(published.json.version) },
    });
    expect(stale.status).toBe(409);
    const archived = await api().request("POST", `/v1/products/${product.id}/archive`, { as: "manager" });
    expect(archived.json.status).toBe("archived");
  });

  it("creating with status published works for a manager (variants first) and is 403 for staff", async () => {
    const byManager = await api().request("POST", "/v1/products", {
      as: "manager",
      body: productInput({ status: "published" }),
    });
    expect(byManager.status).toBe(201);
    expect(byManager.json.status).toBe("published");
    const byStaff = await api().request("POST", "/v1/products", {
      as: "staff",
      body: productInput({ status: "published" }),
    });
    expect(byStaff.status).toBe(403);
  });

  it("schedules publishing in the future only, and the job publishes it when due", async () => {
    const product = await create();
    const past = await api().request("POST", `/v1/products/${product.id}/publish`, {
      as: "manager",
      body: { publish_at: new Date(Date.now() - 60_000).toISOString() },
    });
    expect(past.status).toBe(422);
    expect(past.json.field).toBe("publish_at");

    const at = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = await api().request("POST", `/v1/products/${product.id}/publish`, {
      as: "manager",
      body: { publish_at: at },
    });
    expect(scheduled.status).toBe(200);
    expect(scheduled.json).toMatchObject({ status: "draft", publish_at: at });

    // Not yet due: nothing happens.
    await ctx.db.query("select private.catalog_publish_due()");
    expect((await api().request("GET", `/v1/products/${product.id}`, { as: "viewer" })).json.status).toBe("draft");

    // Two hours later it is due.
    const { rows } = await ctx.db.query<{ result: { published: number } }>(
      "select private.catalog_publish_due(now() + interval '2 hours') as result",
    );
    expect(rows[0]?.result.published).toBeGreaterThanOrEqual(1);
    const after = await api().request("GET", `/v1/products/${product.id}`, { as: "anon" });
    expect(after.status).toBe(200);
    expect(after.json).toMatchObject({ status: "published", publish_at: null });
    const events = await ctx.db.query<{ topic: string }>(
      "select topic from private.events where payload ->> 'id' = $1 order by id",
      [product.id],
    );
    expect(events.rows.map((row) => row.topic)).toContain("product.published");
  });

  it("the registered job publishes due products", async () => {
    const { jobs } = await import("../packages/server/src/jobs/registry.ts");
    const job = jobs.find((each) => each.name === "catalog.publish_scheduled");
    expect(job).toBeDefined();
    const result = await job?.run(ctx.db, api().services as never);
    expect(result).toMatchObject({ published: expect.any(Number), failed: expect.any(Number) });
  });

  it("DELETE soft-deletes (manager only): the product and its variants disappear but stay in the table", async () => {
    const product = await create();
    expect((await api().request("DELETE", `/v1/products/${product.id}`, { as: "staff" })).status).toBe(403);
    expect((await api().request("DELETE", `/v1/products/${product.id}`, { as: "manager" })).status).toBe(204);
    expect((await api().request("GET", `/v1/products/${product.id}`, { as: "viewer" })).status).toBe(404);
    expect((await api().request("DELETE", `/v1/products/${product.id}`, { as: "manager" })).status).toBe(404);
    const { rows } = await ctx.db.query<{ deleted: boolean; variants_deleted: boolean }>(
      `select p.deleted_at is not null as deleted,
              bool_and(v.deleted_at is not null) as variants_deleted
       from public.products p join public.product_variants v on v.product_id = p.id where p.id = $1 group by p.id`,
      [product.id],
    );
    expect(rows[0]).toEqual({ deleted: true, variants_deleted: true });
  });

  it("every change is audited and announced in the outbox", async () => {
    const product = await create();
    const variantId = product.variants[0].id;
    await api().request("PATCH", `/v1/products/${product.id}`, { as: "staff", body: { title: "Audited" } });
    await api().request("PATCH", `/v1/variants/${variantId}`, { as: "staff", body: { price_amount: 1234 } });
    await api().request("POST", `/v1/products/${product.id}/publish`, { as: "manager" });
    await api().request("POST", `/v1/products/${product.id}/unpublish`, { as: "manager" });
    await api().request("DELETE", `/v1/products/${product.id}`, { as: "manager" });
    const events = await ctx.db.query<{ topic: string }>(
      "select topic from private.events where payload ->> 'id' in ($1, $2) order by id",
      [product.id, variantId],
    );
    expect(events.rows.map((row) => row.topic)).toEqual([
      "product.created",
      "variant.created",
      "product.updated",
      "variant.updated",
      "product.published",
      "product.unpublished",
      "product.deleted",
      "variant.deleted",
    ]);
    const audit = await ctx.db.query<{ operation: string; actor_role: string }>(
      "select operation, actor_role from private.audit_log where table_name = 'public.products' and record_id = $1 order by id",
      [product.id],
    );
    expect(audit.rows.map((row) => `${row.operation}:${row.actor_role}`)).toEqual([
      "INSERT:staff",
      "UPDATE:staff",
      "UPDATE:manager",
      "UPDATE:manager",
      "UPDATE:manager",
    ]);
  });
});

describe(`multi-row writes on ${engine}`, () => {
  it("one statement over many rows audits and announces each row, products before their variants", async () => {
    const a = (await api().request("POST", "/v1/products", { as: "staff", body: productInput() })).json;
    const b = (await api().request("POST", "/v1/products", { as: "staff", body: productInput() })).json;
    const ids = [a.id, b.id];
    const variantIds = [a.variants[0].id, b.variants[0].id];
    await ctx.db.asUser(claimsOf("staff"), (tx) =>
      tx.query("update public.products set description = 'Changed together' where id = any($1::uuid[])", [ids]),
    );
    await ctx.db.asUser(claimsOf("manager"), (tx) =>
      tx.query("update public.products set deleted_at = now() where id = any($1::uuid[])", [ids]),
    );
    const events = await ctx.db.query<{ topic: string; id: string }>(
      `select e.topic, e.payload ->> 'id' as id from private.events e
       where e.payload ->> 'id' = any($1::text[]) and e.topic not like '%.created' order by e.id`,
      [[...ids, ...variantIds]],
    );
    expect(events.rows.map((row) => row.topic)).toEqual([
      "product.updated",
      "product.updated",
      "product.deleted",
      "product.deleted",
      "variant.deleted",
      "variant.deleted",
    ]);
    expect(new Set(events.rows.slice(4).map((row) => row.id))).toEqual(new Set(variantIds));
    const audit = await ctx.db.query<{ record_id: string; operation: string; actor_role: string; version: number }>(
      `select record_id, operation, actor_role, (new_row ->> 'version')::int as version from private.audit_log
       where table_name = 'public.products' and record_id = any($1::text[]) order by id`,
      [ids],
    );
    for (const id of ids) {
      expect(
        audit.rows
          .filter((row) => row.record_id === id)
          .map((row) => `${row.operation}:${row.actor_role}:${row.version}`),
      ).toEqual(["INSERT:staff:1", "UPDATE:staff:2", "UPDATE:manager:3"]);
    }
    const variantAudit = await ctx.db.query<{ n: number }>(
      `select count(*)::int as n from private.audit_log
       where table_name = 'public.product_variants' and operation = 'UPDATE' and record_id = any($1::text[])`,
      [variantIds],
    );
    expect(variantAudit.rows[0]?.n).toBe(2);
  });
});

describe(`variants through the API on ${engine}`, () => {
  it("adds, changes (with versions) and removes variants", async () => {
    const product = await create();
    const sku = uniqueSku();
    const added = await api().request("POST", `/v1/products/${product.id}/variants`, {
      as: "staff",
      body: { sku, price_amount: 990, currency: "EUR", title: "Large", options: { size: "L" } },
    });
    expect(added.status).toBe(201);
    expect(added.json).toMatchObject({ sku, product_id: product.id, version: 1 });

    const changed = await api().request("PATCH", `/v1/variants/${added.json.id}`, {
      as: "staff",
      headers: { "if-match": '"1"' },
      body: { price_amount: 1090, compare_at_amount: 1500 },
    });
    expect(changed.json).toMatchObject({ price_amount: 1090, compare_at_amount: 1500, version: 2 });

    const stale = await api().request("PATCH", `/v1/variants/${added.json.id}`, {
      as: "staff",
      body: { price_amount: 1, version: 1 },
    });
    expect(stale.status).toBe(409);
    expect(stale.json.current).toMatchObject({ price_amount: 1090, version: 2 });

    const invalid = await api().request("PATCH", `/v1/variants/${added.json.id}`, {
      as: "staff",
      body: { compare_at_amount: 100 },
    });
    expect(invalid.status).toBe(422);

    expect((await api().request("DELETE", `/v1/variants/${added.json.id}`, { as: "staff" })).status).toBe(204);
    expect((await api().request("DELETE", `/v1/variants/${added.json.id}`, { as: "staff" })).status).toBe(404);
    const after = await api().request("GET", `/v1/products/${product.id}`, { as: "viewer" });
    expect(after.json.variants.map((v: any) => v.id)).not.toContain(added.json.id);

    const taken = await api().request("POST", `/v1/products/${product.id}/variants`, {
      as: "staff",
      body: { sku, price_amount: 1, currency: "EUR" },
    });
    expect(taken.status).toBe(409);
  });

  it("adding a variant to an unknown product is 404; viewers may not add", async () => {
    const missing = "00000000-0000-4000-8000-00000000beef";
    const response = await api().request("POST", `/v1/products/${missing}/variants`, {
      as: "staff",
      body: { sku: uniqueSku(), price_amount: 1, currency: "EUR" },
    });
    expect(response.status).toBe(404);
    const product = await create();
    const byViewer = await api().request("POST", `/v1/products/${product.id}/variants`, {
      as: "viewer",
      body: { sku: uniqueSku(), price_amount: 1, currency: "EUR" },
    });
    expect(byViewer.status).toBe(403);
  });
});

describe(`catalog OpenAPI on ${engine}`, () => {
  it("documents every catalog operation with its error responses", async () => {
    const response = await api().request("GET", "/v1/openapi.json");
    expect(response.status).toBe(200);
    const operations = new Map<string, Record<string, unknown>>();
    for (const methods of Object.values(response.json.paths) as Record<string, any>[]) {
      for (const operation of Object.values(methods)) operations.set(operation.operationId, operation.responses);
    }
    const expected = {
      listProducts: ["200", "422"],
      createProduct: ["201", "401", "403", "409", "422"],
      getProduct: ["200", "404"],
      updateProduct: ["200", "404", "409", "422"],
      deleteProduct: ["204", "403", "404", "409"],
      publishProduct: ["200", "403", "409"],
      unpublishProduct: ["200", "409"],
      archiveProduct: ["200", "409"],
      addVariant: ["201", "404", "409"],
      updateVariant: ["200", "409"],
      deleteVariant: ["204", "409"],
      bulkProducts: ["200", "409", "422"],
      importProducts: ["202", "413", "415"],
      exportProducts: ["200", "401"],
      getJob: ["200", "404"],
      listBrands: ["200"],
      getBrand: ["200", "404"],
      createBrand: ["201", "409"],
      updateBrand: ["200", "404"],
      deleteBrand: ["204", "404"],
      listCategories: ["200"],
      getCategory: ["200", "404"],
      createCategory: ["201", "409"],
      updateCategory: ["200", "404"],
      deleteCategory: ["204", "409"],
      getCategoryTree: ["200"],
    };
    for (const [operationId, statuses] of Object.entries(expected)) {
      const responses = operations.get(operationId);
      expect(responses, operationId).toBeDefined();
      expect(Object.keys(responses ?? {}), operationId).toEqual(expect.arrayContaining(statuses));
    }
  });
});
