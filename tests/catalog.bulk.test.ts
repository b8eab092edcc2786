import { describe, expect, it } from "vitest";
import { createTestApp } from "./helpers/app.ts";
import { productInput, uniqueSku } from "./helpers/catalog.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

const ctx = useTestDatabase();
const api = () => createTestApp(ctx.db);
const count = async (titlePrefix: string) =>
  Number(
    (
      await ctx.db.query<{ n: number }>("select count(*)::int as n from public.products where title like $1", [
        `${titlePrefix}%`,
      ])
    ).rows[0]?.n,
  );

describe(`bulk product operations on ${engine}`, () => {
  it("runs creates, updates and deletes with per-item results; failures do not stop the rest", async () => {
    const existing = await api().request("POST", "/v1/products", {
      as: "manager",
      body: productInput({ title: "Bulk A old" }),
    });
    const doomed = await api().request("POST", "/v1/products", {
      as: "manager",
      body: productInput({ title: "Bulk A doomed" }),
    });
    const sku = uniqueSku();
    const response = await api().request("POST", "/v1/products/bulk", {
      as: "manager",
      body: {
        ops: [
          {
            action: "create",
            product: productInput({ title: "Bulk A one", variants: [{ sku, price_amount: 1, currency: "EUR" }] }),
          },
          {
            action: "create",
            product: productInput({ title: "Bulk A dup", variants: [{ sku, price_amount: 1, currency: "EUR" }] }),
          },
          { action: "update", id: existing.json.id, version: 1, product: { title: "Bulk A renamed" } },
          { action: "update", id: existing.json.id, version: 1, product: { title: "Bulk A stale" } },
          { action: "delete", id: doomed.json.id },
          { action: "delete", id: "00000000-0000-4000-8000-00000000dead" },
        ],
      },
    });
    expect(response.status, response.text).toBe(200);
    expect(response.json).toMatchObject({ atomic: false, committed: true, succeeded: 3, failed: 3 });
    const results = response.json.results;
    expect(results.map((r: any) => r.status)).toEqual(["ok", "failed", "ok", "failed", "ok", "failed"]);
    expect(results[0].product).toMatchObject({ title: "Bulk A one", version: 1 });
    expect(results[1].error).toMatchObject({ status: 409, type: "https://storekeep.dev/problems/conflict" });
    expect(results[2].product).toMatchObject({ title: "Bulk A renamed", version: 2 });
    expect(results[3].error).toMatchObject({ status: 409, type: "https://storekeep.dev/problems/version-conflict" });
    expect(results[3].error.current).toMatchObject({ title: "Bulk A renamed", version: 2 });
    expect(results[5].error.status).toBe(404);
    expect(await count("Bulk A one")).toBe(1);
    expect(await count("Bulk A dup")).toBe(0);
    const gone = await api().request("GET", `/v1/products/${doomed.json.id}`, { as: "viewer" });
    expect(gone.status).toBe(404);
  });

  it("atomic: one failure rolls every operation back and answers 409 with the results", async () => {
    const existing = await api().request("POST", "/v1/products", {
      as: "staff",
      body: productInput({ title: "Bulk B old" }),
    });
    const response = await api().request("POST", "/v1/products/bulk", {
      as: "staff",
      body: {
        atomic: true,
        ops: [
          { action: "create", product: productInput({ title: "Bulk B one" }) },
          { action: "update", id: existing.json.id, product: { title: "Bulk B renamed" } },
          { action: "delete", id: existing.json.id }, // staff may not delete
          { action: "create", product: productInput({ title: "Bulk B two" }) },
        ],
      },
    });
    expect(response.status).toBe(409);
    expect(response.json).toMatchObject({ committed: false, succeeded: 0, failed: 1 });
    expect(response.json.results.map((r: any) => r.status)).toEqual([
      "rolled_back",
      "rolled_back",
      "failed",
      "rolled_back",
    ]);
    expect(response.json.results[2].error.status).toBe(403);
    expect(await count("Bulk B one")).toBe(0);
    expect(await count("Bulk B two")).toBe(0);
    const unchanged = await api().request("GET", `/v1/products/${existing.json.id}`, { as: "viewer" });
    expect(unchanged.json).toMatchObject({ title: "Bulk B old", version: 1 });
    const events = await ctx.db.query(
      "select 1 from private.events where payload ->> 'id' = $1 and topic <> 'product.created'",
      [existing.json.id],
    );
    expect(events.rows).toEqual([]);
  });

  it("atomic and all good commits everything", async () => {
    const response = await api().request("POST", "/v1/products/bulk", {
      as: "staff",
      body: {
        atomic: true,
        ops: Array.from({ length: 50 }, (_, i) => ({
          action: "create",
          product: productInput({ title: `Bulk C ${i}` }),
        })),
      },
    });
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ committed: true, succeeded: 50, failed: 0 });
    expect(await count("Bulk C")).toBe(50);
  });

  it("refuses more than 1,000 operations and malformed ones with 422", async () => {
    const tooMany = Array.from({ length: 1001 }, () => ({
      action: "delete",
      id: "00000000-0000-4000-8000-00000000dead",
    }));
    expect((await api().request("POST", "/v1/products/bulk", { as: "staff", body: { ops: tooMany } })).status).toBe(
      422,
    );
    const malformed = await api().request("POST", "/v1/products/bulk", {
      as: "staff",
      body: { ops: [{ action: "explode" }] },
    });
    expect(malformed.status).toBe(422);
    expect(
      (await api().request("POST", "/v1/products/bulk", { as: "viewer", body: { ops: tooMany.slice(0, 1) } })).status,
    ).toBe(403);
  });
});
