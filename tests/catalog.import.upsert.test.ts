import { describe, expect, it } from "vitest";
import { processImport, startImport } from "../packages/server/src/domains/catalog/transfer/service.ts";
import { createTestApp } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

const ctx = useTestDatabase();
const api = () => createTestApp(ctx.db);
const staff = { role: "authenticated" as const, sub: "00000000-0000-4000-8000-000000000004", app_role: "staff" };
const jsonl = (...lines: unknown[]) => lines.map((line) => JSON.stringify(line)).join("\n");

async function runImport(body: string, as: "staff" | "manager" = "staff") {
  const started = await api().request("POST", "/v1/products/import", {
    as,
    body,
    headers: { "content-type": "application/x-ndjson" },
  });
  expect(started.status, started.text).toBe(202);
  for (let i = 0; i < 400; i++) {
    const job = await api().request("GET", `/v1/jobs/${started.json.id}`, { as });
    expect(job.status, job.text).toBe(200);
    if (job.json.status === "completed") return job.json;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`job ${started.json.id} did not finish`);
}

async function product(handle: string) {
  const { rows } = await ctx.db.query<{
    id: string;
    title: string;
    description: string;
    version: number;
    search: string;
    variants: { sku: string; price_amount: number; title: string; position: number }[];
  }>(
    `select p.id, p.title, p.description, p.version, p.search::text as search,
            coalesce(jsonb_agg(jsonb_build_object('sku', v.sku, 'price_amount', v.price_amount, 'title', v.title,
              'position', v.position) order by v.position) filter (where v.id is not null), '[]') as variants
       from public.products p left join public.product_variants v on v.product_id = p.id
      where p.handle = $1 group by p.id`,
    [handle],
  );
  return rows[0];
}

async function eventsSince(cursor: number, productId: string) {
  const { rows } = await ctx.db.query<{ topic: string }>(
    `select topic from private.events
      where id > $1 and (payload ->> 'id' = $2 or payload ->> 'product_id' = $2) order by id`,
    [cursor, productId],
  );
  return rows.map((row) => row.topic);
}

const lastEvent = async () =>
  Number((await ctx.db.query<{ id: string }>("select coalesce(max(id), 0) as id from private.events")).rows[0]?.id);

describe(`product import upserts by handle and SKU on ${engine}`, () => {
  it("updates the product a handle names: given fields overwrite, variants by SKU, new SKUs added; events and search follow", async () => {
    const first = await runImport(
      jsonl({
        handle: "ups-kettle",
        title: "Upsert Kettle",
        description: "Steel",
        variants: [
          { sku: "UPS-K-1", title: "One litre", price_amount: 3000, currency: "EUR" },
          { sku: "UPS-K-2", title: "Two litres", price_amount: 4000, currency: "EUR" },
        ],
      }),
    );
    expect(first).toMatchObject({ done: 1, failed: 0 });
    const before = await product("ups-kettle");
    const cursor = await lastEvent();
    const generation = async () =>
      (
        await ctx.db.query<{ generation: string }>("select generation from private.cache_generations where key = $1", [
          `product:${before?.id}`,
        ])
      ).rows[0]?.generation;
    const generationBefore = Number((await generation()) ?? 0);

    const second = await runImport(
      jsonl({
        handle: "ups-kettle",
        title: "Upsert Kettle Deluxe",
        variants: [
          { sku: "ups-k-1", price_amount: 3500, currency: "EUR" }, // the stored SKU, case aside
          { sku: "UPS-K-3", title: "Three litres", price_amount: 5000, currency: "EUR" },
        ],
      }),
    );
    expect(second).toMatchObject({ total: 1, done: 1, failed: 0 });
    const after = await product("ups-kettle");
    expect(after).toMatchObject({
      id: before?.id,
      title: "Upsert Kettle Deluxe",
      description: "Steel", // not in the file: kept
      variants: [
        { sku: "UPS-K-1", price_amount: 3500, title: "One litre", position: 0 },
        { sku: "UPS-K-2", price_amount: 4000, title: "Two litres", position: 1 },
        { sku: "UPS-K-3", price_amount: 5000, title: "Three litres", position: 2 },
      ],
    });
    expect(after?.search).toMatch(/deluxe/);
    expect(after?.search).toMatch(/upsk3/);
    expect((await eventsSince(cursor, before?.id as string)).sort()).toEqual(
      ["product.updated", "variant.created", "variant.updated"].sort(),
    );
    expect(Number(await generation())).toBeGreaterThan(generationBefore);
    const { rows: count } = await ctx.db.query<{ n: number }>(
      "select count(*)::int as n from public.products where handle like 'ups-kettle%'",
    );
    expect(count[0]?.n).toBe(1);

    // The same file again changes nothing, so emits nothing.
    const quiet = await lastEvent();
    await runImport(jsonl({ handle: "ups-kettle", title: "Upsert Kettle Deluxe" }));
    expect(await eventsSince(quiet, before?.id as string)).toEqual([]);
  });

  it("refuses a line whole, with its line and field, and imports the others", async () => {
    await runImport(
      jsonl({
        handle: "ups-owner",
        title: "Owner",
        variants: [{ sku: "UPS-OWNED", price_amount: 100, currency: "EUR" }],
      }),
    );
    await runImport(
      jsonl({
        handle: "ups-victim",
        title: "Victim",
        variants: [{ sku: "UPS-V-1", price_amount: 100, currency: "EUR" }],
      }),
    );
    const job = await runImport(
      jsonl(
        { handle: "ups-fresh", title: "Fresh", variants: [{ sku: "UPS-F-1", price_amount: 100, currency: "EUR" }] },
        // an update whose second variant names another product's SKU: nothing of the line applies
        {
          handle: "ups-victim",
          title: "Victim renamed",
          variants: [
            { sku: "UPS-V-1", price_amount: 999, currency: "EUR" },
            { sku: "ups-owned", price_amount: 100, currency: "EUR" },
          ],
        },
        {
          handle: "ups-cheap",
          title: "Cheap",
          variants: [{ sku: "UPS-C-1", price_amount: 500, currency: "EUR", compare_at_amount: 400 }],
        },
        { handle: "ups-fresh", title: "Fresh again" },
        { title: "Branded", brand: "no-such-brand" },
        {
          handle: "ups-mixed",
          title: "Mixed",
          variants: [
            { sku: "UPS-M-1", price_amount: 1, currency: "EUR" },
            { sku: "UPS-M-2", price_amount: 1, currency: "USD" },
          ],
        },
      ),
    );
    expect(job).toMatchObject({ total: 6, done: 1, failed: 5 });
    expect(job.errors.map((e: { line: number; field: string }) => [e.line, e.field])).toEqual([
      [2, "variants.1.sku"],
      [3, "variants.0.compare_at_amount"],
      [4, "handle"],
      [5, "brand"],
      [6, "variants"],
    ]);
    expect(job.errors[0]).toMatchObject({ sqlstate: "P0C01" });
    expect(await product("ups-victim")).toMatchObject({
      title: "Victim",
      variants: [{ sku: "UPS-V-1", price_amount: 100 }],
    });
    expect(await product("ups-fresh")).toMatchObject({ title: "Fresh" });
    expect(await product("ups-cheap")).toBeUndefined();
  });

  it("staff may not publish through an update; a manager may", async () => {
    await runImport(
      jsonl({
        handle: "ups-pub",
        title: "To publish",
        variants: [{ sku: "UPS-P-1", price_amount: 10, currency: "EUR" }],
      }),
    );
    const refused = await runImport(jsonl({ handle: "ups-pub", title: "To publish", status: "published" }));
    expect(refused.errors).toEqual([expect.objectContaining({ line: 1, field: "status", sqlstate: "P0F01" })]);
    const published = await runImport(
      jsonl({ handle: "ups-pub", title: "To publish", status: "published" }),
      "manager",
    );
    expect(published).toMatchObject({ done: 1, failed: 0 });
    const { rows } = await ctx.db.query("select status from public.products where handle = 'ups-pub'");
    expect(rows[0]).toEqual({ status: "published" });
  });

  it("two imports naming the same handles at once: each product once, every line done, no failure", async () => {
    const handles = Array.from({ length: 300 }, (_, i) => `ups-race-${i}`);
    const lines = (tag: string) =>
      handles.map((handle, i) => ({
        handle,
        title: `Race ${i} ${tag}`,
        variants: [{ sku: `UPS-RACE-${i}`, price_amount: 100 + i, currency: "EUR" }],
      }));
    // The second file names them in the opposite order: row locks taken in file order would deadlock.
    const file = (tag: string) => jsonl(...(tag === "a" ? lines(tag) : lines(tag).reverse()));
    // Both jobs staged first, then processed at the same moment (the route would start each at once).
    const [a, b] = await Promise.all(
      ["a", "b"].map(
        async (tag) =>
          (await startImport(ctx.db, staff, new Blob([file(tag)]).stream(), "jsonl", { maxBytes: 2 ** 26 })).result.id,
      ),
    );
    await Promise.all([processImport(ctx.db, staff, a as string, 100), processImport(ctx.db, staff, b as string, 100)]);
    for (const id of [a, b]) {
      const job = await api().request("GET", `/v1/jobs/${id}`, { as: "staff" });
      expect(job.json).toMatchObject({ status: "completed", total: 300, done: 300, failed: 0 });
    }
    const { rows } = await ctx.db.query<{ products: number; variants: number }>(
      `select count(distinct p.id)::int as products, count(v.id)::int as variants
         from public.products p join public.product_variants v on v.product_id = p.id
        where p.handle like 'ups-race-%'`,
    );
    expect(rows[0]).toEqual({ products: 300, variants: 300 });
  });
});
