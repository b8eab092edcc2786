import { describe, expect, it } from "vitest";
import { constraintRules } from "../packages/server/src/app.ts";
import { createTestApp } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";
import { createVariants } from "./helpers/inventory.ts";

// A broken constraint answers with the field at fault and a sentence a form can show, never the
// constraint's name; also inside bulk results. The guard: every named constraint the migrations
// create (checks, unique, foreign and primary keys, unique indexes) has a rule in some domain's
// `constraints.ts`, on the right table, and no rule names a constraint that does not exist.

const ctx = useTestDatabase();
const api = () => createTestApp(ctx.db);
let serial = 0;
const sku = (prefix = "CON") => `${prefix}-${Date.now().toString(36)}-${++serial}`.toUpperCase();

describe(`every constraint in the migrations is mapped on ${engine}`, () => {
  it("each constraint and unique index in public and private has a rule naming its table", async () => {
    const { rows } = await ctx.db.query<{ name: string; table_name: string }>(
      `select c.conname as name, n.nspname || '.' || t.relname as table_name
         from pg_constraint c join pg_class t on t.oid = c.conrelid join pg_namespace n on n.oid = t.relnamespace
        where n.nspname in ('public', 'private') and c.contype in ('c', 'u', 'f', 'p', 'x')
       union
       select i.relname, n.nspname || '.' || t.relname
         from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
         join pg_namespace n on n.oid = t.relnamespace
        where n.nspname in ('public', 'private') and x.indisunique
          and not exists (select 1 from pg_constraint c where c.conindid = i.oid)
       order by 2, 1`,
    );
    expect(rows.length).toBeGreaterThan(100);
    const rules = constraintRules as Record<string, { table: string; field: string | null; message: string }>;
    const unmapped = rows
      .filter((row) => rules[row.name]?.table !== row.table_name)
      .map((row) => `${row.table_name}: ${row.name} (add it to the domain's constraints.ts)`);
    expect(unmapped).toEqual([]);
    const known = new Set(rows.map((row) => row.name));
    expect(Object.keys(rules).filter((name) => !known.has(name))).toEqual([]);
    for (const [name, rule] of Object.entries(rules)) {
      expect(rule.message.length, name).toBeGreaterThan(10);
      expect(rule.message, name).not.toMatch(/_(check|key|fkey|pkey)\b/);
    }
  });
});

describe(`broken constraints answer the field at fault on ${engine}`, () => {
  it("a duplicate SKU names the variant it is in: body.variants.1.sku, taken", async () => {
    const existing = sku();
    await createVariants(ctx.db, [existing]);
    const response = await api().request("POST", "/v1/products", {
      as: "staff",
      body: {
        title: "Duplicate",
        variants: [
          { sku: sku(), price_amount: 100, currency: "EUR" },
          { sku: existing.toLowerCase(), price_amount: 100, currency: "EUR" },
        ],
      },
    });
    expect(response.status).toBe(409);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect(response.json.errors).toEqual([
      { field: "body.variants.1.sku", code: "taken", message: expect.stringMatching(/SKU/) },
    ]);
    expect(response.text).not.toMatch(/product_variants_sku_key/);
  });

  it("two variants of one request with the same SKU name the second", async () => {
    const twice = sku();
    const response = await api().request("POST", "/v1/products", {
      as: "staff",
      body: {
        title: "Twice",
        variants: [
          { sku: twice, price_amount: 100, currency: "EUR" },
          { sku: sku(), price_amount: 100, currency: "EUR" },
          { sku: twice.toLowerCase(), price_amount: 100, currency: "EUR" },
        ],
      },
    });
    expect(response.status).toBe(409);
    expect(response.json.errors[0]).toMatchObject({ field: "body.variants.2.sku", code: "taken" });
  });

  it("a compare-at price below the price names that variant's compare_at_amount", async () => {
    const response = await api().request("POST", "/v1/products", {
      as: "staff",
      body: {
        title: "Cheap",
        variants: [
          { sku: sku(), price_amount: 500, currency: "EUR", compare_at_amount: 900 },
          { sku: sku(), price_amount: 500, currency: "EUR", compare_at_amount: 400 },
        ],
      },
    });
    expect(response.status).toBe(422);
    expect(response.json.errors).toEqual([
      { field: "body.variants.1.compare_at_amount", code: "not_above_price", message: expect.any(String) },
    ]);
    expect(response.json.detail).not.toMatch(/product_variants_check/);

    const variant = await api().request("POST", "/v1/products", {
      as: "staff",
      body: { title: "One", variants: [{ sku: sku(), price_amount: 500, currency: "EUR" }] },
    });
    const patch = await api().request("PATCH", `/v1/variants/${variant.json.variants[0].id}`, {
      as: "staff",
      body: { compare_at_amount: 100 },
    });
    expect(patch.status).toBe(422);
    expect(patch.json.errors[0]).toMatchObject({ field: "body.compare_at_amount", code: "not_above_price" });
  });

  it("a negative receipt names delta", async () => {
    const receipt = sku("RCPT");
    await createVariants(ctx.db, [receipt]);
    const response = await api().request("POST", "/v1/inventory/adjust", {
      as: "staff",
      body: { sku: receipt, location_code: "main", kind: "receipt", delta: -3 },
    });
    expect(response.status).toBe(422);
    expect(response.json.errors).toEqual([{ field: "body.delta", code: "wrong_sign", message: expect.any(String) }]);
    expect(response.text).not.toMatch(/stock_movements_sign_matches_kind/);
  });

  it("a duplicate brand handle names handle", async () => {
    const first = await api().request("POST", "/v1/brands", {
      as: "staff",
      body: { name: "Acme", handle: "acme-con" },
    });
    expect(first.status).toBe(201);
    const again = await api().request("POST", "/v1/brands", {
      as: "staff",
      body: { name: "Acme 2", handle: "acme-con" },
    });
    expect(again.status).toBe(409);
    expect(again.json.errors).toEqual([{ field: "body.handle", code: "taken", message: expect.any(String) }]);
  });

  it("inside bulk results, each failed item names its field under its op", async () => {
    const existing = sku();
    await createVariants(ctx.db, [existing]);
    const response = await api().request("POST", "/v1/products/bulk", {
      as: "staff",
      body: {
        ops: [
          {
            action: "create",
            product: { title: "bulk fine", variants: [{ sku: sku(), price_amount: 1, currency: "EUR" }] },
          },
          {
            action: "create",
            product: {
              title: "bulk dup",
              variants: [
                { sku: sku(), price_amount: 1, currency: "EUR" },
                { sku: existing, price_amount: 1, currency: "EUR" },
              ],
            },
          },
          {
            action: "create",
            product: {
              title: "bulk cheap",
              variants: [{ sku: sku(), price_amount: 10, currency: "EUR", compare_at_amount: 5 }],
            },
          },
          {
            action: "create",
            product: {
              title: "bulk mixed",
              variants: [
                { sku: sku(), price_amount: 10, currency: "EUR" },
                { sku: sku(), price_amount: 10, currency: "USD" },
              ],
            },
          },
        ],
      },
    });
    expect(response.status, response.text).toBe(200);
    const errors = response.json.results.map((item: any) => item.error?.errors);
    expect(errors[0]).toBeUndefined();
    expect(errors[1]).toEqual([
      { field: "body.ops.1.product.variants.1.sku", code: "taken", message: expect.any(String) },
    ]);
    expect(errors[2]).toEqual([
      {
        field: "body.ops.2.product.variants.0.compare_at_amount",
        code: "not_above_price",
        message: expect.any(String),
      },
    ]);
    expect(errors[3]).toEqual([
      expect.objectContaining({ field: "body.ops.3.product.variants.1.currency", code: "currency_mismatch" }),
    ]);
    expect(response.text).not.toMatch(/_(check|key)\b/);
  });
});

describe(`rows_breaking asks the constraint itself on ${engine}`, () => {
  it("finds the rows a check or a unique index refuses, and nothing for an unknown name", async () => {
    const taken = sku();
    await createVariants(ctx.db, [taken]);
    const rows = JSON.stringify([
      { sku: "A-1", price_amount: 5, compare_at_amount: 9 },
      { sku: taken.toLowerCase(), price_amount: 5, compare_at_amount: 4 },
      { sku: "a-1", price_amount: 5 },
    ]);
    const ask = async (constraint: string) =>
      (
        await ctx.db.query<{ found: number[] }>(
          "select private.rows_breaking($1, 'public.product_variants', $2::jsonb) as found",
          [constraint, rows],
        )
      ).rows[0]?.found;
    expect(await ask("product_variants_check")).toEqual([1]);
    expect(await ask("product_variants_sku_key")).toEqual([1, 2]);
    expect(await ask("no_such_constraint")).toEqual([]);
  });
});
