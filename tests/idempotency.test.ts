import { describe, expect, it } from "vitest";
import { createTestApp } from "./helpers/app.ts";
import { engine, onPostgres, useTestDatabase } from "./helpers/db.ts";

const ctx = useTestDatabase({ poolMax: 12 });
const product = (sku: string) => ({
  title: `Idempotent ${sku}`,
  variants: [{ sku, price_amount: 1500, currency: "EUR" }],
});
const count = async (sku: string) =>
  Number(
    (
      await ctx.db.query<{ n: string }>(
        "select count(*) as n from public.product_variants where lower(sku) = lower($1)",
        [sku],
      )
    ).rows[0]?.n,
  );

describe(`Idempotency-Key on POST /products on ${engine}`, () => {
  it("a repeat answers the first product and creates nothing more", async () => {
    const { request } = createTestApp(ctx.db);
    const headers = { "idempotency-key": "create-idem-1" };
    const first = await request("POST", "/v1/products", { as: "staff", body: product("IDEM-1"), headers });
    expect(first.status).toBe(201);
    const again = await request("POST", "/v1/products", { as: "staff", body: product("IDEM-1"), headers });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.json).toEqual(first.json);
    expect(await count("IDEM-1")).toBe(1);
  });

  it("the same key with another body is 409 and writes nothing", async () => {
    const { request } = createTestApp(ctx.db);
    const headers = { "idempotency-key": "create-idem-2" };
    expect((await request("POST", "/v1/products", { as: "staff", body: product("IDEM-2"), headers })).status).toBe(201);
    const other = await request("POST", "/v1/products", { as: "staff", body: product("IDEM-2B"), headers });
    expect(other.status).toBe(409);
    expect(other.json.errors[0].field).toBe("header.idempotency-key");
    expect(await count("IDEM-2B")).toBe(0);
  });

  it("keys belong to their caller; a failed request leaves its key free", async () => {
    const { request } = createTestApp(ctx.db);
    const headers = { "idempotency-key": "create-idem-3" };
    const bad = await request("POST", "/v1/products", {
      as: "staff",
      body: { title: "Bad", variants: [{ sku: "IDEM-1", price_amount: 1, currency: "EUR" }] },
      headers,
    });
    expect(bad.status).toBe(409);
    expect((await request("POST", "/v1/products", { as: "staff", body: product("IDEM-3"), headers })).status).toBe(201);
    const byManager = await request("POST", "/v1/products", { as: "manager", body: product("IDEM-3M"), headers });
    expect(byManager.status).toBe(201);
    expect(byManager.headers.get("idempotent-replayed")).toBeNull();
  });
});

describe.skipIf(!onPostgres)("concurrent repeats of one Idempotency-Key", () => {
  it("create exactly one product and all answer it", async () => {
    const { request } = createTestApp(ctx.db);
    const headers = { "idempotency-key": "create-idem-race" };
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        request("POST", "/v1/products", { as: "staff", body: product("IDEM-RACE"), headers }),
      ),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(201));
    expect(new Set(responses.map((response) => response.json.id)).size).toBe(1);
    expect(responses.filter((response) => response.headers.get("idempotent-replayed") === "true")).toHaveLength(19);
    expect(await count("IDEM-RACE")).toBe(1);
  });
});
